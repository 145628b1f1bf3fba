# fish completion for aliaslease:
# aliaslease completion fish > ~/.config/fish/completions/aliaslease.fish
complete -c aliaslease -f -a '(aliaslease __complete (commandline -opc)[2..-1] (commandline -ct) 2>/dev/null)'
