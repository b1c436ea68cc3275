# fish completion for crsync: rsync's own completion, crsync's options, and the host names of cssh's
# configuration (`cssh --list-hosts`). Install this file as crsync.fish in a fish completions directory.

complete -c crsync --wraps rsync
complete -c crsync -l cssh-config -r -F -d "cssh configuration file"
complete -c crsync -l cssh-dry-run -d "Print the rsync command line, then exit"
complete -c crsync -l help -d "Show help"
complete -c crsync -l version -d "Show the version"
complete -c crsync -f -a '(cssh --list-hosts 2>/dev/null | string replace -r -- "\\$" ":")' -d "cssh host"
