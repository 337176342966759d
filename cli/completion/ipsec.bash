# bash completion for ipsecd's `ipsec` command (docs/ipsec.8.md).
# Install as /usr/share/bash-completion/completions/ipsec.

_ipsec_conn_names() {
  # conn names of the --config file (default /etc/ipsec.conf), %default excluded
  local config=/etc/ipsec.conf i
  for ((i = 1; i < ${#COMP_WORDS[@]}; i++)); do
    case "${COMP_WORDS[i]}" in
      --config) config="${COMP_WORDS[i + 1]}" ;;
      --config=*) config="${COMP_WORDS[i]#--config=}" ;;
    esac
  done
  [[ -r "$config" ]] || return
  awk '$1 == "conn" && $2 != "%default" { print $2 }' "$config" 2>/dev/null
}

_ipsec_reply() {
  # one completion per line of compgen's output
  mapfile -t COMPREPLY < <(compgen "$@")
}

_ipsec() {
  local cur prev command
  cur="${COMP_WORDS[COMP_CWORD]}"
  prev="${COMP_WORDS[COMP_CWORD - 1]}"
  command="${COMP_WORDS[1]}"

  local named="add delete replace up down route unroute"
  local others="status trafficstatus ready rereadsecrets rereadall listall listcerts
    listpubkeys checkpubkeys listcacerts rereadcacerts listcrls rereadcrls listacerts
    rereadacerts listaacerts rereadaacerts listgroups rereadgroups purgeocsp"
  local options="--showonly --asynchronous --config --verbose --state-dir --timeout --utc --json"

  case "$prev" in
    --config)
      _ipsec_reply -f -- "$cur"
      return
      ;;
    --state-dir)
      _ipsec_reply -d -- "$cur"
      return
      ;;
    --timeout)
      return
      ;;
  esac

  if ((COMP_CWORD == 1)); then
    _ipsec_reply -W "auto $named $others checkconfig readwriteconf --version --help" -- "$cur"
    return
  fi

  local op word
  case "$command" in
    auto)
      for word in "${COMP_WORDS[@]:2}"; do
        case "$word" in
          --add | --delete | --replace | --up | --down | --route | --unroute) op=named ;;
        esac
      done
      if [[ "$cur" == -* || -z "$op" ]]; then
        local ops="" w
        for w in $named $others; do
          ops+=" --$w"
        done
        _ipsec_reply -W "$ops $options" -- "$cur"
      else
        _ipsec_reply -W "$(_ipsec_conn_names)" -- "$cur"
      fi
      ;;
    add | delete | replace | up | down | route | unroute)
      if [[ "$cur" == -* ]]; then
        _ipsec_reply -W "$options" -- "$cur"
      else
        _ipsec_reply -W "$(_ipsec_conn_names)" -- "$cur"
      fi
      ;;
    checkconfig)
      _ipsec_reply -W "--config --rootdir" -- "$cur"
      ;;
    readwriteconf)
      _ipsec_reply -W "--config --rootdir --json --yaml" -- "$cur"
      ;;
    *)
      _ipsec_reply -W "$options" -- "$cur"
      ;;
  esac
}

complete -F _ipsec ipsec
