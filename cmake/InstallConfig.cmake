# Runs at install time (install(SCRIPT)) with IPSECD_EXAMPLE_CONF and
# IPSECD_SYSCONFDIR set: installs the example ipsec.conf into the sysconfdir
# (/etc for the prefix /usr, as GNUInstallDirs has it) unless one is there:
# never over an operator's configuration.
set(etc "${IPSECD_SYSCONFDIR}")
if(NOT IS_ABSOLUTE "${etc}")
  if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    set(etc "/${etc}")
  else()
    set(etc "${CMAKE_INSTALL_PREFIX}/${etc}")
  endif()
endif()
if(EXISTS "$ENV{DESTDIR}${etc}/ipsec.conf")
  message(STATUS "Kept: $ENV{DESTDIR}${etc}/ipsec.conf")
else()
  file(INSTALL "${IPSECD_EXAMPLE_CONF}" DESTINATION "${etc}")
endif()
