# fish completion for csftp: sftp's own completion, csftp's options, and the host names of cssh's
# configuration (`cssh --list-hosts`). Install this file as csftp.fish in a fish completions directory.

complete -c csftp --wraps sftp
complete -c csftp -l cssh-config -r -F -d "cssh configuration file"
complete -c csftp -l cssh-dry-run -d "Print the sftp command line, then exit"
complete -c csftp -l help -d "Show help"
complete -c csftp -l version -d "Show the version"
complete -c csftp -f -a '(cssh --list-hosts 2>/dev/null)' -d "cssh host"
