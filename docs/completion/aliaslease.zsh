#compdef aliaslease
# zsh completion for aliaslease: put it in a directory of $fpath as
# _aliaslease (aliaslease completion zsh > "${fpath[1]}/_aliaslease"), or
# source it after compinit.
_aliaslease() {
	local -a candidates
	candidates=("${(@f)$(aliaslease __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
	compadd -- "${candidates[@]}"
}
if [ "$funcstack[1]" = "_aliaslease" ]; then
	_aliaslease "$@"
else
	compdef _aliaslease aliaslease
fi
