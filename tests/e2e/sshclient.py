"""An SSH client that is not OpenSSH, as users' tools use it: Paramiko or asyncssh, configured
from an ssh_config file the way each documents (Paramiko: SSHConfig, ProxyCommand, the known
hosts file under the HostKeyAlias; asyncssh: the file itself).

    sshclient.py LIBRARY SSH_CONFIG HOST exec COMMAND   stdin to the command; its stdout,
                                                         stderr and exit status
    sshclient.py LIBRARY SSH_CONFIG HOST shell INPUT    a login shell on a pty, INPUT typed;
                                                         what it printed, and its exit status
    sshclient.py LIBRARY SSH_CONFIG HOST sftp LOCAL REMOTE
                                                         LOCAL uploaded to REMOTE, then
                                                         downloaded to LOCAL.back; REMOTE's
                                                         directory listed
"""

import asyncio
import os
import sys


def paramiko_session(config_path, host):
    import paramiko

    config = paramiko.SSHConfig.from_path(config_path).lookup(host)
    client = paramiko.SSHClient()
    client.load_host_keys(config["userknownhostsfile"])
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        config.get("hostkeyalias", host),
        username=config["user"],
        key_filename=config["identityfile"][0],
        sock=paramiko.ProxyCommand(config["proxycommand"]),
        look_for_keys=False,
        allow_agent=False,
    )
    return client


def with_paramiko(config_path, host, action, args):
    client = paramiko_session(config_path, host)
    try:
        if action == "exec":
            stdin, stdout, stderr = client.exec_command(os.fsencode(args[0]))
            stdin.write(sys.stdin.buffer.read())
            stdin.channel.shutdown_write()
            out = stdout.read()
            err = stderr.read()
            status = stdout.channel.recv_exit_status()
            sys.stdout.buffer.write(out)
            sys.stderr.buffer.write(err)
            return status
        if action == "shell":
            channel = client.invoke_shell(term="xterm", width=100, height=30)
            channel.sendall(args[0].encode())
            seen = b""
            while True:
                data = channel.recv(65536)
                if not data:
                    break
                seen += data
            sys.stdout.buffer.write(seen)
            return channel.recv_exit_status()
        if action == "sftp":
            local, remote = args
            sftp = client.open_sftp()
            sftp.put(local, remote)
            sftp.get(remote, local + ".back")
            for name in sorted(sftp.listdir(os.path.dirname(remote))):
                print(name)
            return 0
    finally:
        client.close()
    raise SystemExit(f"unknown action {action}")


async def with_asyncssh(config_path, host, action, args):
    import asyncssh

    async with asyncssh.connect(host, config=[config_path]) as conn:
        if action == "exec":
            result = await conn.run(
                os.fsencode(args[0]), input=sys.stdin.buffer.read(), encoding=None
            )
            sys.stdout.buffer.write(result.stdout)
            sys.stderr.buffer.write(result.stderr)
            return result.exit_status
        if action == "shell":
            process = await conn.create_process(
                term_type="xterm", term_size=(100, 30), encoding=None
            )
            process.stdin.write(args[0].encode())
            seen = await process.stdout.read()
            await process.wait()
            sys.stdout.buffer.write(seen)
            return process.exit_status
        if action == "sftp":
            local, remote = args
            async with conn.start_sftp_client() as sftp:
                await sftp.put(local, remote)
                await sftp.get(remote, local + ".back")
                for name in sorted(await sftp.listdir(os.path.dirname(remote))):
                    if name not in (".", ".."):
                        print(name)
            return 0
    raise SystemExit(f"unknown action {action}")


def main():
    library, config_path, host, action, *args = sys.argv[1:]
    if library == "paramiko":
        status = with_paramiko(config_path, host, action, args)
    else:
        status = asyncio.run(with_asyncssh(config_path, host, action, args))
    sys.stdout.flush()
    sys.exit(status if status is not None else 255)


if __name__ == "__main__":
    main()
