# SPDX-License-Identifier: LGPL-2.1-or-later
# bash completion for kvctl: commands, options, --type names, and key names read live
# from the store (on the bus the command line names).

_kvctl_keys()
{
    local prefix=$1
    shift
    local key
    # kvctl keys -0: keys with newlines or spaces stay whole.
    while IFS= read -r -d '' key; do
        COMPREPLY+=("$(printf '%q' "$key")")
    done < <(kvctl "$@" --timeout 2 keys -0 -- "$prefix" 2>/dev/null)
}

_kvctl()
{
    local cur prev words cword
    _init_completion || return

    local commands="get set set-many cas exists del incr keys dump load watch changes
        lease lock revision access origin ping help"
    local global_options="--system --user --session --address --timeout --help --version"
    local types="string bool byte int16 uint16 int32 uint32 int64 uint64 double objectpath
        signature"

    # The bus options typed so far, for reading keys from the same store; and the command.
    local -a bus=()
    local command="" i
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --system | --user | --session) bus+=("${words[i]}") ;;
            --address | --timeout)
                [[ ${words[i]} == --address ]] && bus+=(--address "${words[i + 1]}")
                ((i++))
                ;;
            -*) ;;
            *)
                command=${words[i]}
                break
                ;;
        esac
    done

    if [[ -z $command ]]; then
        case $prev in
            --address | --timeout) return ;;
        esac
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$global_options" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return
    fi

    local options="--help"
    case $command in
        get) options+=" --revision --json" ;;
        set) options+=" --type --gvariant --file --ttl --lease" ;;
        lock) options+=" --timeout" ;;
        set-many | cas) options+=" --type --gvariant" ;;
        del) options+=" --prefix" ;;
        keys) options+=" -0 --null --json" ;;
        dump) options+=" --json" ;;
        load) options+=" --json --batch-size" ;;
        watch) options+=" --since" ;;
        changes) options+=" --since --after" ;;
        help)
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
            return
            ;;
    esac

    case $prev in
        --type | -t)
            COMPREPLY=($(compgen -W "$types" -- "$cur"))
            return
            ;;
        --file | -f)
            _filedir
            return
            ;;
        --batch-size | --since | --ttl | --lease) return ;;
        --after)
            _kvctl_keys "$cur" "${bus[@]}"
            return
            ;;
        --prefix | -p)
            _kvctl_keys "$cur" "${bus[@]}"
            return
            ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$options" -- "$cur"))
        return
    fi

    # The position of the word among the command's arguments, options left out.
    local n=0
    for ((i = i + 1; i < cword; i++)); do
        case ${words[i]} in
            --type | -t | --file | -f | --prefix | -p | --batch-size | --since | --after | --ttl | \
                --lease | --timeout | -w) ((i++)) ;;
            -*) ;;
            *) ((n++)) ;;
        esac
    done

    case $command in
        get | exists | access | origin | watch | changes | keys | dump | del)
            _kvctl_keys "$cur" "${bus[@]}"
            ;;
        set | cas | incr)
            ((n == 0)) && _kvctl_keys "$cur" "${bus[@]}"
            ;;
        load)
            _filedir
            ;;
        lease)
            ((n == 0)) && COMPREPLY=($(compgen -W "grant keep-alive revoke" -- "$cur"))
            ;;
        lock)
            # NAME, then the command to run, then its arguments.
            if ((n == 1)); then
                COMPREPLY=($(compgen -c -- "$cur" | LC_ALL=C sort -u))
            elif ((n > 1)); then
                _filedir
            fi
            ;;
    esac
}
complete -F _kvctl kvctl
