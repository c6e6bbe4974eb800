#!/usr/bin/env bash
# parse_options.sh: Kaldi-style command-line options for shell scripts.
#
# Source it AFTER declaring every option's default and (optionally) help_message:
#
#   stage=0            # first stage to run
#   stop_stage=100     # last stage to run
#   use_gpu=false      # true|false
#   help_message="Usage: $0 [options] <data-dir>"
#   . utils/parse_options.sh || exit 1
#   # positional arguments are now in "$@"
#
# Rules (funasr_lite; Kaldi's utils/parse_options.sh semantics unless noted):
#   --name value    sets shell variable "name"; dashes become underscores, so
#                   --stop-stage 3 and --stop_stage 3 both set stop_stage=3.
#   --name=value    also accepted (Kaldi refuses this form; we accept both).
#   undeclared      "--foo" whose variable foo is unset -> "invalid option --foo", exit 1.
#   booleans        a variable whose current value is true/false only takes true/false
#                   (otherwise exit 1).
#   --config FILE   sourced first (wherever it appears), so command-line options win.
#   --help, -h      prints $help_message to stdout and exits 0; without a help_message it
#                   lists the NAME=VALUE defaults declared at top level in the calling
#                   script before the line sourcing parse_options.sh, with their
#                   current values and trailing comments.
#   --              ends option parsing; so does the first argument not starting with --.
#   pass-through    (funasr_lite) a caller that sets parse_options_pass_unknown=true before
#                   sourcing gets undeclared "--foo value" pairs appended to the array
#                   passthrough_opts instead of an error: a recipe's run.sh takes its corpus
#                   options and hands every other option to the shared stage script.
# Options are only read before the first positional argument (as in Kaldi). Internal
# variables are prefixed __po_ and unset at the end.

__po_die() { echo "$0: $*" >&2; exit 1; }

__po_help() {
  if [ -n "${help_message:-}" ]; then
    printf '%s\n' "$help_message"
    return 0
  fi
  echo "Usage: $0 [options] [args]"
  echo "Options (current values):"
  [ -f "$0" ] || return 0
  local __po_line __po_var __po_comment
  while IFS= read -r __po_line || [ -n "$__po_line" ]; do
    case "$__po_line" in *parse_options.sh*) break ;; esac
    if [[ "$__po_line" =~ ^([A-Za-z_][A-Za-z0-9_]*)= ]]; then
      __po_var="${BASH_REMATCH[1]}"
      __po_comment=""
      [[ "$__po_line" =~ [[:space:]]#[[:space:]]?(.*)$ ]] && __po_comment="  # ${BASH_REMATCH[1]}"
      [ "$__po_var" = help_message ] && continue
      printf '  --%-24s %s%s\n' "${__po_var//_/-}" "'${!__po_var-}'" "$__po_comment"
    fi
  done < "$0"
}

# 1) --config FILE (or --config=FILE) is sourced before anything else.
__po_i=1
while [ "$__po_i" -le "$#" ]; do
  __po_arg="${!__po_i}"
  case "$__po_arg" in
    --) break ;;
    --config=*) __po_cfg="${__po_arg#--config=}" ;;
    --config)
      __po_next=$((__po_i + 1))
      [ "$__po_next" -le "$#" ] || __po_die "option --config needs a value"
      __po_cfg="${!__po_next}" ;;
    *) __po_cfg="" ;;
  esac
  if [ -n "${__po_cfg:-}" ]; then
    [ -r "$__po_cfg" ] || __po_die "cannot read config file $__po_cfg"
    # shellcheck disable=SC1090
    . "$__po_cfg" || __po_die "error sourcing config file $__po_cfg"
  fi
  __po_i=$((__po_i + 1))
done

# 2) the options themselves.
passthrough_opts=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --help|-h) __po_help; exit 0 ;;
    --) shift; break ;;
    --config=*) shift; continue ;;
    --config) shift 2; continue ;;
    --*=*) __po_name="${1%%=*}"; __po_value="${1#*=}"; __po_shift=1 ;;
    --?*)
      __po_name="$1"
      [ "$#" -ge 2 ] || __po_die "option $1 needs a value"
      __po_value="$2"; __po_shift=2 ;;
    *) break ;;
  esac
  __po_opt="$__po_name"
  __po_name="${__po_name#--}"
  __po_name="${__po_name//-/_}"
  if ! [[ "$__po_name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || [ -z "${!__po_name+x}" ]; then
    if [ "${parse_options_pass_unknown:-false}" = true ] && [[ "$__po_name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
      passthrough_opts+=("$__po_opt" "$__po_value")
      shift "$__po_shift"
      continue
    fi
    __po_die "invalid option $__po_opt"
  fi
  __po_old="${!__po_name}"
  if { [ "$__po_old" = true ] || [ "$__po_old" = false ]; } &&
     [ "$__po_value" != true ] && [ "$__po_value" != false ]; then
    __po_die "invalid value '$__po_value' for boolean option $__po_opt (use true or false)"
  fi
  printf -v "$__po_name" '%s' "$__po_value"
  shift "$__po_shift"
done

unset __po_i __po_arg __po_cfg __po_next __po_name __po_value __po_shift __po_opt __po_old
unset -f __po_die __po_help
true
