# bash completion for aliaslease: source it, or put it in
# /etc/bash_completion.d/aliaslease (aliaslease completion bash > ...)
_aliaslease() {
	local IFS=$'\n'
	COMPREPLY=($(aliaslease __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o default -F _aliaslease aliaslease
