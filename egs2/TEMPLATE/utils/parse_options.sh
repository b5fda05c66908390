#!/usr/bin/env bash
# Kaldi-style option parsing, sourced by recipes after their defaults are set:
#   --name value / --name=value sets the shell variable "name" (dashes become
#   underscores) if the recipe defined it; an undefined name is an error, as is a
#   missing value. --help prints "${help_message}" and exits.
# Positional arguments are left in "$@".

while true; do
    [ $# -eq 0 ] && break
    case "$1" in
        --help|-h)
            echo "${help_message:-No help for this script.}"
            exit 0
            ;;
        --*=*)
            _name=${1%%=*}; _value=${1#*=}; shift
            set -- "${_name}" "${_value}" "$@"
            ;;
        --*)
            _name=$(echo "${1#--}" | tr '-' '_')
            if [ -z "${!_name+defined}" ] || ! declare -p "${_name}" > /dev/null 2>&1; then
                echo "$0: unknown option $1 (see --help)" >&2
                exit 1
            fi
            if [ $# -lt 2 ]; then
                echo "$0: option $1 needs a value" >&2
                exit 1
            fi
            # Bash arrays are not options; everything else is a plain string.
            printf -v "${_name}" '%s' "$2"
            shift 2
            ;;
        *)
            break
            ;;
    esac
done
unset _name _value
true
