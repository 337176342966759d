# Runs at install time (install(SCRIPT)): writes the systemd unit with the
# daemon's and the documentation's installed paths, which depend on the prefix
# given to `cmake --install --prefix`. Set by install(CODE) before this runs:
# IPSECD_UNIT_SOURCE, IPSECD_UNIT_STAGING, IPSECD_SBINDIR, IPSECD_DOCDIR,
# IPSECD_SYSTEMD_UNITDIR (relative to the prefix, or absolute).
file(READ "${IPSECD_UNIT_SOURCE}" unit)
string(REPLACE "/usr/sbin/ipsecd" "${CMAKE_INSTALL_PREFIX}/${IPSECD_SBINDIR}/ipsecd" unit "${unit}")
string(REPLACE "/usr/share/doc/ipsecd" "${CMAKE_INSTALL_PREFIX}/${IPSECD_DOCDIR}" unit "${unit}")
file(WRITE "${IPSECD_UNIT_STAGING}/ipsecd.service" "${unit}")
set(unitdir "${IPSECD_SYSTEMD_UNITDIR}")
if(NOT IS_ABSOLUTE "${unitdir}")
  set(unitdir "${CMAKE_INSTALL_PREFIX}/${unitdir}")
endif()
# file(INSTALL) puts $DESTDIR in front by itself.
file(INSTALL "${IPSECD_UNIT_STAGING}/ipsecd.service" DESTINATION "${unitdir}")
