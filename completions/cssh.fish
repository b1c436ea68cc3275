# fish completion for cssh: ssh's own completion, cssh's options, and the host names of cssh's
# configuration (`cssh --list-hosts`). Install this file as cssh.fish in a fish completions directory.

complete -c cssh --wraps ssh
complete -c cssh -l config -r -F -d "cssh configuration file"
complete -c cssh -l image -r -d "Run in this image for this call"
complete -c cssh -l attach -r -x -a list -d "Enter your running batch job's container (list: your jobs)"
complete -c cssh -l no-container -d "Run ssh exactly as given"
complete -c cssh -l dry-run -d "Print the ssh command line, then exit"
complete -c cssh -l explain -d "Show matching entries, settings and the remote script"
complete -c cssh -l rsync-path -d "Print a value for rsync --rsync-path"
complete -c cssh -l sftp-server-command -d "Print a remote command that runs sftp-server in the image"
complete -c cssh -l allocate -d "Submit the destination's Slurm or HTCondor job and wait until it runs"
complete -c cssh -l release -d "Cancel the destination's Slurm allocation or HTCondor job"
complete -c cssh -l doctor -d "Check each host, all at once"
complete -c cssh -l jobs -r -x -d "--doctor: hosts checked at once"
complete -c cssh -l timeout -r -x -d "--doctor: seconds to wait for one host"
complete -c cssh -l json -d "--doctor: findings as JSON"
complete -c cssh -l proxy -d "Be an SSH client's ProxyCommand into the container"
complete -c cssh -l ssh-config -d "Print ssh_config blocks for any SSH client"
complete -c cssh -l list-hosts -d "Print the configured host names"
complete -c cssh -l help -d "Show help"
complete -c cssh -l version -d "Show the version"
complete -c cssh -f -a '(cssh --list-hosts 2>/dev/null)' -d "cssh host"
