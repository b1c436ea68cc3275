# fish completion for cscp: scp's own completion, cscp's options, and the host names of cssh's
# configuration (`cssh --list-hosts`). Install this file as cscp.fish in a fish completions directory.

complete -c cscp --wraps scp
complete -c cscp -l cssh-config -r -F -d "cssh configuration file"
complete -c cscp -l cssh-dry-run -d "Print the scp command line, then exit"
complete -c cscp -l help -d "Show help"
complete -c cscp -l version -d "Show the version"
complete -c cscp -f -a '(cssh --list-hosts 2>/dev/null | string replace -r -- "\\$" ":")' -d "cssh host"
