# bash completion for cssh, cscp, csftp and crsync.
#
# Each reuses the system's completion of the client it wraps (bash-completion's ssh, scp, sftp
# and rsync completions, loaded on demand under the name either version of bash-completion uses)
# and adds cssh's own options and the host names of cssh's configuration (`cssh --list-hosts`).
# Install this file as cssh, cscp, csftp and crsync in bash-completion's completions directory.

_cssh_complete()
{
    local command=${1##*/} real own
    case $command in
        cssh) real=ssh own='--config --image --attach --no-container --dry-run --explain --rsync-path --sftp-server-command --allocate --release --doctor --jobs --timeout --json --proxy --ssh-config --list-hosts --help --version' ;;
        cscp) real=scp own='--cssh-config --cssh-dry-run --help --version' ;;
        csftp) real=sftp own='--cssh-config --cssh-dry-run --help --version' ;;
        crsync) real=rsync own='--cssh-config --cssh-dry-run --help --version' ;;
        *) return 1 ;;
    esac
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()

    # The client's own completion, loaded the way this bash-completion loads completions.
    if ! complete -p "$real" &>/dev/null; then
        if declare -F _comp_load >/dev/null; then
            _comp_load "$real"
        elif declare -F __load_completion >/dev/null; then
            __load_completion "$real"
        fi
    fi
    local spec function=
    spec=$(complete -p "$real" 2>/dev/null) && [[ $spec =~ -F\ ([^ ]+) ]] && function=${BASH_REMATCH[1]}
    [[ -n $function ]] && "$function" "$real" "$cur" "$prev"

    if [[ $cur == --* ]]; then
        COMPREPLY+=($(compgen -W "$own" -- "$cur"))
        return 0
    fi
    [[ $cur == -* || $cur == */* || $cur == *:* ]] && return 0
    if [[ $real == ssh || $real == sftp ]]; then
        # Only the destination is a host: stop once a word that is no option was given.
        local i word with_argument=BDEFIJLOPQRSWbceilmopw
        for ((i = 1; i < COMP_CWORD; i++)); do
            word=${COMP_WORDS[i]}
            if [[ $word == --config || $word == --image || $word == --attach || $word == --jobs || $word == --timeout || $word == --cssh-config ]]; then
                ((i++))
            elif [[ $word == -? && $with_argument == *"${word:1}"* ]]; then
                ((i++))
            elif [[ $word != -* ]]; then
                return 0
            fi
        done
    fi
    local cssh=cssh suffix= host
    [[ $1 == */* ]] && cssh=${1%/*}/cssh
    [[ $real == scp || $real == rsync ]] && suffix=:
    while IFS= read -r host; do
        [[ $host == "$cur"* ]] && COMPREPLY+=("$host$suffix")
    done < <("$cssh" --list-hosts 2>/dev/null)
    return 0
}

complete -F _cssh_complete cssh csftp
complete -F _cssh_complete -o nospace cscp crsync
