# bash completion for tiff-dumper (installed to share/bash-completion/completions/tiff-dumper).
# Completes the commands, each command's options, YAML files for CONFIG, directories for
# OUT_DIR and files for info and report -o; store URLs are left to the user.
_tiff_dumper() {
    local cur prev cmd i nargs
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "headers finish info report help --help --version" -- "$cur"))
        return 0
    fi
    cmd=${COMP_WORDS[1]}
    case "$cmd" in
    help)
        [ "$COMP_CWORD" -eq 2 ] && COMPREPLY=($(compgen -W "headers finish info report" -- "$cur"))
        ;;
    headers)
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--quiet --loud --check --shard --shards --no-shard --resume --help" -- "$cur"))
            return 0
        fi
        case "$prev" in --shard | --shards) return 0 ;; esac # I/N, N: nothing to offer
        # Which positional argument is this? Options (and --shard's value) do not count.
        nargs=0
        for ((i = 2; i < COMP_CWORD; i++)); do
            case "${COMP_WORDS[i-1]}" in --shard | --shards) continue ;; esac
            [[ ${COMP_WORDS[i]} == -* ]] || nargs=$((nargs + 1))
        done
        if [ "$nargs" -eq 0 ]; then
            COMPREPLY=($(compgen -f -X '!*.@(yaml|yml)' -- "$cur") $(compgen -d -- "$cur"))
        else
            COMPREPLY=($(compgen -d -- "$cur"))
        fi
        ;;
    finish)
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--shards --config -o --quiet --help" -- "$cur"))
            return 0
        fi
        [ "$prev" = "--shards" ] || COMPREPLY=($(compgen -d -- "$cur"))
        ;;
    report)
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "-o --output --option --quiet --help" -- "$cur"))
            return 0
        fi
        case "$prev" in
        -o | --output) COMPREPLY=($(compgen -f -- "$cur")) ;;
        --option) return 0 ;;
        *) COMPREPLY=($(compgen -d -- "$cur")) ;;
        esac
        ;;
    info)
        if [ "$prev" = "-o" ] || [ "$prev" = "--option" ]; then
            COMPREPLY=($(compgen -W "region= endpoint= skip_signature=true access_key_id= \
                secret_access_key= session_token= profile= account_name= access_key= \
                sas_token= service_account= use_emulator=true" -- "$cur"))
            compopt -o nospace 2>/dev/null
            return 0
        fi
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--json -o --option --help" -- "$cur"))
            return 0
        fi
        COMPREPLY=($(compgen -f -- "$cur"))
        ;;
    esac
    return 0
}
complete -o filenames -F _tiff_dumper tiff-dumper
