"""Which judge each program gets: `judge_argv(words, ctx)` for one simple command.

A program the table does not name is `shell.unknown` (review: fail closed). A command whose
name is only known at run time is `shell.dynamic`. A program called by a path outside the
system's bin directories (`./ls`) is someone's file, not the program of that name: where the
program would only read, it is unknown.
"""

from __future__ import annotations

import re

from proctor_classifier.shell import carried, files, reads, system, wrappers
from proctor_classifier.shell.context import Context, Hit, Judge
from proctor_classifier.shell.words import Word, program_name

# Programs that only read (with any arguments), and shell builtins that change nothing outside
# the shell itself.
_READS = """
    ls ll dir vdir cat head tail less more grep egrep fgrep rg ag ack zgrep zegrep zless zmore
    ps pstree pidof top htop atop iotop df du free uptime whoami id wc cut paste join jq yq
    stat file which whereis type tr basename dirname realpath readlink md5sum sha1sum
    sha224sum sha256sum sha384sum sha512sum b2sum cksum sum diff diff3 sdiff cmp comm column
    nl tac fold fmt expand unexpand seq sleep uname lsb_release lscpu lsblk lsof lsmod lspci
    lsusb lsns lslocks lsipc vmstat iostat mpstat pidstat sar nproc w who last lastlog lastb
    groups getent ss netstat dig nslookup host ping ping6 traceroute tracepath mtr
    coredumpctl systemd-analyze strings od hexdump base64 base32 cd pwd true false test [
    echo printf printenv locale tput tty clear history jobs fg bg wait read getopts shift
    set shopt unset exit return break continue let hash help umask dirs popd pushd : ulimit
    times caller mapfile readarray disown info apropos whatis look expr factor numfmt shuf
    cal ncal getconf sensors ipcs blkid findmnt namei pinky users lsattr getfacl slabtop
    tload iftop nethogs bmon nload zcat bzcat xzcat zstdcat
"""
_WRITES = """
    ln mkdir touch rmdir unlink truncate mktemp patch scp sftp split
    csplit chattr setfacl mount umount swapon swapoff modprobe insmod rmmod depmod route arp
    nmcli iw iwconfig ethtool busctl numactl stty enable complete compgen dc nvidia-smi
    useradd usermod adduser groupadd groupmod chpasswd chage gpasswd newusers visudo vi vim
    nvim nano emacs ed ex pico joe mcedit ip iptables-restore ip6tables-restore
    update-alternatives update-grub grub-install ldconfig logrotate logger wall write
    systemd-tmpfiles zip unzip 7z 7za rar unrar ar cpio pip pip3 npm yarn pnpm gem cargo
    brew snap flatpak apt apt-get aptitude yum dnf zypper apk pacman dpkg rpm conda mamba
    go make cmake ninja helm terraform ansible ansible-playbook atrm
    hwclock ntpdate chronyc certbot htpasswd ssh-keygen ssh-copy-id gpg
    openssl
"""

_TABLE: dict[str, Judge] = {name: system.read for name in _READS.split()}
_TABLE.update({name: files.writer for name in _WRITES.split()})
_TABLE.update({
    "rm": files.rm, "chmod": files.chmod, "chown": files.chmod, "chgrp": files.chmod,
    "shred": files.shred, "dd": files.dd, "tee": files.tee, "sed": files.sed, "gsed": files.sed,
    "awk": files.awk, "gawk": files.awk, "mawk": files.awk, "nawk": files.awk,
    "find": files.find, "tar": files.tar, "gzip": files.compressor, "gunzip": files.compressor,
    "bzip2": files.compressor, "bunzip2": files.compressor, "xz": files.compressor,
    "unxz": files.compressor, "zstd": files.compressor, "unzstd": files.compressor,
    "sort": files.sort, "uniq": files.uniq, "cp": files.mover, "mv": files.mover,
    "install": files.mover, "rsync": files.mover, "at": wrappers.at, "batch": wrappers.at,
    "systemctl": system.systemctl, "service": system.service, "docker": system.docker,
    "podman": system.docker, "nerdctl": system.docker, "supervisorctl": system.supervisorctl,
    "shutdown": system.power, "reboot": system.power, "halt": system.power,
    "poweroff": system.power, "init": system.power, "telinit": system.power,
    "kill": system.kill, "pkill": system.pkill, "pgrep": system.pkill,
    "killall": system.killall, "killall5": system.killall,
    "iptables": system.iptables, "ip6tables": system.iptables,
    "iptables-legacy": system.iptables, "iptables-nft": system.iptables,
    "ip6tables-legacy": system.iptables, "ip6tables-nft": system.iptables,
    "nft": system.nft, "ufw": system.ufw,
    "fdisk": system.partitioner, "sfdisk": system.partitioner, "parted": system.partitioner,
    "gdisk": system.partitioner, "sgdisk": system.partitioner, "cfdisk": system.partitioner,
    "wipefs": system.disk, "mkswap": system.disk, "blkdiscard": system.disk,
    "mke2fs": system.disk, "mdadm": system.disk, "pvremove": system.disk,
    "vgremove": system.disk, "lvremove": system.disk, "cryptsetup": system.disk,
    "zpool": system.disk, "badblocks": system.disk, "hdparm": system.disk,
    "userdel": system.user_delete, "deluser": system.user_delete,
    "groupdel": system.user_delete, "delgroup": system.user_delete, "passwd": system.passwd,
    "crontab": system.crontab, "git": system.git,
    "apt": system.packages, "apt-get": system.packages, "apt-cache": system.packages,
    "yum": system.packages, "dnf": system.packages, "zypper": system.packages,
    "apk": system.packages, "pacman": system.packages, "pip": system.packages,
    "pip3": system.packages, "npm": system.packages, "yarn": system.packages,
    "pnpm": system.packages, "gem": system.packages, "brew": system.packages,
    "dpkg": system.packages, "dpkg-query": system.packages, "rpm": system.packages,
    "snap": system.packages, "conda": system.packages, "helm": system.packages,
    "curl": system.curl, "wget": system.wget,
    "sudo": wrappers.sudo, "sudoedit": wrappers.sudo, "doas": wrappers.sudo,
    "env": wrappers.env, "command": wrappers.command, "builtin": wrappers.plain,
    "exec": wrappers.exec_, "nohup": wrappers.plain, "!": wrappers.plain, "setsid": wrappers.plain,
    "unbuffer": wrappers.plain, "busybox": wrappers.plain, "toybox": wrappers.plain,
    "unshare": wrappers.plain, "catchsegv": wrappers.plain, "eatmydata": wrappers.plain,
    "timeout": wrappers.timeout, "nice": wrappers.nice, "stdbuf": wrappers.stdbuf,
    "time": wrappers.time, "ionice": wrappers.ionice, "chrt": wrappers.chrt,
    "taskset": wrappers.taskset, "flock": wrappers.flock, "strace": wrappers.tracer,
    "ltrace": wrappers.tracer, "systemd-run": wrappers.systemd_run, "nsenter": wrappers.nsenter,
    "chroot": wrappers.chroot, "watch": wrappers.watch, "xargs": wrappers.xargs,
    "eval": wrappers.eval_, "source": wrappers.source, ".": wrappers.source,
    "trap": wrappers.trap, "alias": wrappers.alias, "su": wrappers.su,
    "runuser": wrappers.su, "script": wrappers.script, "ssh": wrappers.ssh,
    "date": reads.date, "hostname": reads.hostname, "sysctl": reads.sysctl, "ip": reads.ip,
    "ifconfig": reads.ifconfig, "hostnamectl": reads.ctl, "timedatectl": reads.ctl,
    "localectl": reads.ctl, "loginctl": reads.ctl, "resolvectl": reads.ctl,
    "networkctl": reads.ctl, "journalctl": reads.journalctl, "dmesg": reads.dmesg,
    "man": reads.man, "export": reads.declare, "declare": reads.declare,
    "local": reads.declare, "readonly": reads.declare, "typeset": reads.declare,
    "tree": reads.tree, "xxd": reads.xxd, "tcpdump": reads.tcpdump,
    "psql": carried.psql, "kubectl": carried.kubectl, "oc": carried.kubectl,
})  # fmt: skip
_TABLE.update({name: wrappers.shell for name in wrappers.SHELLS})
_TABLE.update({name: wrappers.interpreter for name in wrappers.INTERPRETERS})
_PATTERNS: list[tuple[re.Pattern[str], Judge]] = [
    (re.compile(r"^mkfs(\..+)?$|^mke2fs$|^mkdosfs$|^mkntfs$"), system.disk),
    (re.compile(r"^python[0-9.]*$|^perl[0-9.]*$|^ruby[0-9.]*$|^php[0-9.]*$|^lua[0-9.]*$"),
     wrappers.interpreter),
    (re.compile(r"^pip[0-9.]*$"), system.packages),
]  # fmt: skip
# Directories whose programs are the system's own.
_SYSTEM_DIRS = frozenset({"/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin",
                          "/usr/local/sbin", "/usr/lib/git-core"})  # fmt: skip
#: Variables that change which program runs or what it loads.
RESOLVING = frozenset({"PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "BASH_ENV", "ENV",
                       "PYTHONPATH", "PYTHONSTARTUP", "PERL5LIB", "PERL5OPT", "NODE_OPTIONS",
                       "RUBYOPT", "IFS", "SHELLOPTS", "BASHOPTS", "CDPATH", "GIT_DIR",
                       "GIT_EXEC_PATH", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_PARAMETERS",
                       "LESSOPEN", "LESSCLOSE", "PS4"})  # fmt: skip
#: Variables that hold a command some program runs.
COMMANDS = frozenset({"PAGER", "GIT_PAGER", "MANPAGER", "SYSTEMD_PAGER", "EDITOR", "VISUAL",
                      "GIT_EDITOR", "GIT_SSH_COMMAND", "GIT_SSH", "GIT_EXTERNAL_DIFF",
                      "PROMPT_COMMAND", "SUDO_ASKPASS", "SSH_ASKPASS", "PSQL_PAGER",
                      "RSYNC_RSH", "BROWSER"})  # fmt: skip


def judge_argv(words: list[Word], ctx: Context) -> list[Hit]:
    """The hits of one simple command given as words (its name first)."""
    if not words:
        return []
    head = words[0]
    if not head.literal or head.glob:
        return [("shell.dynamic", ctx.display)]
    name = program_name(head.text)
    judge = _TABLE.get(name) or next((j for p, j in _PATTERNS if p.match(name)), None)
    if judge is None:
        return [("shell.unknown", ctx.display)]
    hits = judge(name, words[1:], ctx)
    directory = head.text.rpartition("/")[0] if "/" in head.text.rstrip("/") else None
    if directory is not None and _foreign(directory) and all(h[0] == "shell.read" for h in hits):
        return [("shell.unknown", f"{ctx.display} (a program outside the system's directories)")]
    return hits


def _foreign(directory: str) -> bool:
    return (directory or "/") not in _SYSTEM_DIRS and directory not in {""}


def assignment_hits(name: str, value: Word, ctx: Context) -> list[Hit]:
    """`NAME=value` before a command, in export or env: a command it holds is judged; a
    change to how programs are found or loaded is `shell.dynamic`."""
    if name in COMMANDS:
        if not value.text:
            return []
        return wrappers.code_hits(value, ctx)
    if name in RESOLVING:
        return [("shell.dynamic", f"{ctx.display} (setting {name} changes what later commands "
                                  "run)")]  # fmt: skip
    return []
