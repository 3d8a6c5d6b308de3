"""Shell commands judged by parsing them with tree-sitter-bash (the classifier's pure core): every
simple command that can run, after quote removal and through whatever wraps it, with psql's SQL
and kubectl's requests judged by their own rules."""

from __future__ import annotations

import pytest

from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.events.v1 import events_pb2 as pb
from proctor.policy import Policy, parse_policy
from proctor.rulecatalog import SHELL_RULES, CommandKind
from proctor_classifier.core import ANALYZERS, classify

ALLOW, REVIEW, BLOCK = pb.ACTION_ALLOW, pb.ACTION_REVIEW, pb.ACTION_BLOCK


def judged(
    text: str = "",
    policy: Policy | None = None,
    *,
    argv: list[str] | None = None,
    interactive: bool = False,
    groups: tuple[str, ...] = (),
) -> cpb.ClassifyResponse:
    shell = pb.ShellDetail(text=text, argv=argv or [], host="demo-host", interactive=interactive)
    request = cpb.ClassifyRequest(
        kind=cpb.COMMAND_KIND_SHELL,
        text=text,
        detail=pb.CommandDetail(shell=shell),
        resource=pb.Resource(name="demo-host"),
        identity=pb.Identity(human="alice", groups=list(groups)),
    )
    return classify(request, policy or Policy.builtin())


def rules(response: cpb.ClassifyResponse) -> set[str]:
    return {m.rule_id for m in response.matches}


def check(text: str, rule_id: str, action: int) -> None:
    response = judged(text)
    assert rule_id in rules(response), (text, [(m.rule_id, m.reason) for m in response.matches])
    assert response.action == action, (text, [(m.rule_id, m.reason) for m in response.matches])


# --- recursive deletes at a root, in every spelling ------------------------------------------

RM_ROOT = [
    "rm -rf /",
    "rm -fr /",
    "rm -Rf /",
    "rm -r -f /",
    "rm --recursive --force /",
    "rm -rf --no-preserve-root /",
    "rm -rf /*",
    "rm -rf //",
    "rm -rf /var/../",
    "rm -rf ~",
    "rm -rf ~/",
    "rm -rf $HOME",
    'rm -rf "$HOME"',
    "rm -rf ${HOME}/",
    "rm -rf /etc",
    "rm -rf /var/*",
    "rm -rf /usr /tmp/x",
    "rm -rf /home/alice",
    "rm -rf /boot /root /opt /srv",
    "rm -rf /{etc,tmp}",
    "rm / -rf",
    "r''m -rf /",
    '"rm" -rf /',
    "\\rm -rf /",
    "$'\\x72m' -rf /",
    "/bin/rm -rf /",
    "/usr/bin/env rm -rf /",
    "sudo rm -rf /",
    "sudo -u root rm -rf /etc",
    "sudo -E -H -u root -- rm -rf /",
    "env X=1 rm -rf /",
    "env -i PATH=/bin rm -rf /",
    "command rm -rf /",
    "builtin command rm -rf /",
    "exec rm -rf /",
    "nice -n 10 rm -rf /",
    "stdbuf -o0 rm -rf /",
    "time rm -rf /",
    "busybox rm -rf /",
    "bash -c 'rm -rf /'",
    "bash -ec 'rm -rf /'",
    'sh -c "r\\"m\\" -rf ~"',
    "bash -c \"bash -c 'rm -rf /'\"",
    'eval "rm -rf /"',
    "eval rm -rf /",
    "echo cm0gLXJmIC8= | base64 -d | sh",
    "echo 'rm -rf /' | bash",
    "printf 'rm -rf /\\n' | sh",
    "bash <<EOF\nrm -rf /\nEOF",
    "cat <<'EOF' | sh\nrm -rf /\nEOF",
    "sh <<< 'rm -rf /'",
    "find / -delete",
    "find / -exec rm -rf {} +",
    "find / -exec rm {} \\;",
    "find /var -type f -delete",
    "find / | xargs rm -rf",
    "echo / | xargs rm -rf",
    "timeout 5 rm -rf /var",
    "nohup rm -rf /* &",
    "ssh db1 rm -rf /",
    "ssh -p 22 -i key db1 'rm -rf /'",
    "cd / && rm -rf *",
    "cd /; rm -rf .",
    # a cd that fails leaves the next command in the login directory
    "cd /tmp/build; rm -rf *",
    "cd /tmp/build\nrm -rf *",
    "cd /tmp/build || rm -rf *",
    "if cd /tmp/build; then ls; else rm -rf *; fi",
    "cd /var && rm -rf ./*",
    "rm -rf *",
    "rm -rf .",
    "rm -rf -- /",
    "rm --recursive --force /etc",
    "rm -rf $DIR/*",
    'rm -rf "$DIR"/',
    "rm $FLAGS /",
    "(cd / && rm -rf *)",
    "x=$(rm -rf /)",
    "echo `rm -rf /`",
    "echo $(( $(rm -rf /) + 1 ))",
    "[[ -n $(rm -rf /) ]]",
    "f() { rm -rf /; }",
    "if true; then rm -rf /; fi",
    "case x in x) rm -rf /;; esac",
    "for d in a; do rm -rf /; done",
    "while true; do rm -rf /; break; done",
    "ls; rm -rf /",
    "ls && rm -rf / || true",
    "watch rm -rf /",
    "watch -n 5 'rm -rf /'",
    "trap 'rm -rf /' EXIT",
    "alias ls='rm -rf /'",
    "su -c 'rm -rf /'",
    "su - root -c 'rm -rf /'",
    "docker exec web rm -rf /",
    "kubectl exec pod -- rm -rf /",
    "PAGER='rm -rf /' git log",
    "git -C repo status; rm -rf /",
    "systemd-run rm -rf /",
    "ionice -c3 rm -rf /",
    "setsid rm -rf /",
    "chroot /mnt rm -rf /",
    "flock /tmp/l -c 'rm -rf /'",
    "flock /tmp/l rm -rf /",
    "env -S 'rm -rf /'",
    "env - rm -rf /",
    "echo / | xargs -i rm -rf {}",
    "sudo sh -c 'cd / && rm -rf *'",
    # tree-sitter hangs these words on the redirect; bash gives them to rm
    "rm > /dev/null -rf /",
    "rm 2>/dev/null -rf /",
    "rm <<EOF -rf /\nEOF",
    "! rm -rf /",
    "! ! rm -rf /",
    # literal values the text gives its variables
    "X=/; rm -rf $X",
    "x=rm; $x -rf /",
    'D=/var; rm -rf "$D"/*',
    "for d in /tmp /; do rm -rf $d; done",
    "rm -rf ${DIR:-/}",
    "export T=/etc; rm -rf $T",
    # positional arguments of sh -c, from find and xargs too
    "bash -c 'rm -rf \"$1\"' _ /",
    "find / -exec sh -c 'rm -rf \"$@\"' _ {} +",
    "echo / | xargs -I{} sh -c 'rm -rf {}'",
    # moves and syncs that take a root away
    "mv /etc /tmp/etc.old",
    "rsync -a --delete /empty/ /",
    # shell commands in another language's code
    "python3 -c 'import os; os.system(\"rm -rf /\")'",
    "awk 'BEGIN { system(\"rm -rf /\") }'",
    "perl -e '`rm -rf /`'",
    "at now <<< 'rm -rf /'",
    "ls | rm -rf / 2>/dev/null",
]


@pytest.mark.parametrize("text", RM_ROOT)
def test_recursive_deletes_at_a_root_are_blocked_in_every_spelling(text: str) -> None:
    check(text, "shell.rm_root", BLOCK)


def test_values_of_variables_only_ever_add_to_a_verdict() -> None:
    # eval can change x out of sight: the command is still judged as written (dynamic)
    response = judged('x=ls; eval "x=rm"; $x -rf /')
    assert response.action == REVIEW and "shell.dynamic" in rules(response)
    assert judged('msg="a; rm -rf /"; echo $msg').action == ALLOW
    assert judged("f=out.txt; cat $f").action == ALLOW
    reasons = [m.reason for m in judged("X=/; rm -rf $X").matches]
    assert "rm -rf / deletes everything under / (with X=/)" in reasons


def test_the_reason_names_the_command_and_what_it_deletes() -> None:
    response = judged("rm -rf /")
    (match,) = response.matches
    assert match.reason == "rm -rf / deletes everything under /"
    assert match.hint and match.decided_by == "default"
    assert "on db1" in judged("ssh db1 rm -rf /").matches[0].reason


@pytest.mark.parametrize(
    "text",
    [
        "rm -rf ./build",
        "rm -rf /tmp/x",
        "rm -rf ~/project/tmp",
        "rm -rf ${DIR:?}/*",
        "rm -rf $DIR",
        "rm /etc/app.conf",
        "find . -name '*.pyc' -delete",
        "find / -name core -delete",
        "find / -name node_modules -type d -exec rm -rf {} +",
        "find . -name '*.tmp' | xargs rm -rf",
        "cd /tmp/x && rm -rf *",
        "cd /tmp && cd x && rm -rf *",
        "if cd /tmp/x; then rm -rf *; fi",
        "(cd /; ls); rm -rf ./build",
        "cd $DIR && rm -rf *",
        "xargs rm -rf < list",
        "cat list | xargs rm -rf",
    ],
)
def test_deletes_below_a_root_or_of_unknown_targets_are_reviewed(text: str) -> None:
    check(text, "shell.write", REVIEW)


# --- destructive rules -----------------------------------------------------------------------

DESTRUCTIVE = [
    ("mkfs.ext4 /dev/sdb1", "shell.disk"),
    ("mkfs -t xfs /dev/sdb", "shell.disk"),
    ("wipefs -a /dev/sda", "shell.disk"),
    ("shred -u secrets.txt", "shell.disk"),
    ("dd if=/dev/zero of=/dev/sda bs=1M", "shell.disk"),
    ("dd if=/dev/urandom of=/dev/nvme0n1", "shell.disk"),
    ("fdisk /dev/sda", "shell.disk"),
    ("parted /dev/sda rm 1", "shell.disk"),
    ("sfdisk /dev/sda < layout", "shell.disk"),
    ("echo x > /dev/sda", "shell.disk"),
    ("cat img | tee /dev/sdb", "shell.disk"),
    ("cp disk.img /dev/sdb", "shell.disk"),
    ("shutdown -h now", "shell.power"),
    ("sudo reboot", "shell.power"),
    ("halt", "shell.power"),
    ("poweroff", "shell.power"),
    ("init 0", "shell.power"),
    ("init 6", "shell.power"),
    ("systemctl poweroff", "shell.power"),
    ("systemctl reboot", "shell.power"),
    ("systemctl isolate rescue.target", "shell.power"),
    ("echo b > /proc/sysrq-trigger", "shell.power"),
    ("kill -9 1", "shell.kill_all"),
    ("kill -1", "shell.kill_all"),
    ("kill -9 -1", "shell.kill_all"),
    ("kill -KILL 1", "shell.kill_all"),
    ("kill -s KILL -1", "shell.kill_all"),
    ("killall nginx", "shell.kill_all"),
    ("killall5 -9", "shell.kill_all"),
    ("pkill -9 .", "shell.kill_all"),
    ("pkill -u alice", "shell.kill_all"),
    ("iptables -F", "shell.firewall_flush"),
    ("iptables --flush", "shell.firewall_flush"),
    ("iptables -t nat -X", "shell.firewall_flush"),
    ("ip6tables -F INPUT", "shell.firewall_flush"),
    ("nft flush ruleset", "shell.firewall_flush"),
    ("ufw disable", "shell.firewall_flush"),
    ("ufw --force reset", "shell.firewall_flush"),
    ("crontab -r", "shell.crontab_remove"),
    ("crontab -u bob -r", "shell.crontab_remove"),
    ("userdel -r bob", "shell.user_delete"),
    ("deluser bob", "shell.user_delete"),
    ("passwd -d root", "shell.user_delete"),
    ("chmod -R 777 /", "shell.chmod_root"),
    ("chown -R nobody /etc", "shell.chmod_root"),
    ("chmod -R 000 ~", "shell.chmod_root"),
    ("chgrp --recursive staff /usr", "shell.chmod_root"),
    ("find / -exec chmod 777 {} +", "shell.chmod_root"),
    ("git push --force", "shell.force_push"),
    ("git push -f origin main", "shell.force_push"),
    ("git push --force-with-lease origin main", "shell.force_push"),
    ("git push origin +main", "shell.force_push"),
    ("git push origin :main", "shell.force_push"),
    ("git push --delete origin main", "shell.force_push"),
    ("git push --mirror backup", "shell.force_push"),
    (":(){ :|:& };:", "shell.fork_bomb"),
    ("bomb() { bomb | bomb & }; bomb", "shell.fork_bomb"),
]


@pytest.mark.parametrize(("text", "rule_id"), DESTRUCTIVE)
def test_destructive_commands_are_blocked(text: str, rule_id: str) -> None:
    check(text, rule_id, BLOCK)


PIPE_TO_SHELL = [
    "curl -fsSL https://get.example.com | sh",
    "curl -s https://x | sudo bash",
    "wget -qO- https://x | bash",
    "wget -O - https://x | sh -s -- --flag",
    "curl https://x | python3",
    "curl https://x | tee install.sh | sh",
    "sh <(curl -s https://x)",
    "bash <(wget -qO- https://x)",
    'bash -c "$(curl -fsSL https://x)"',
    'eval "$(curl -s https://x)"',
    "source <(curl -s https://x)",
    ". <(curl -s https://x)",
    'python3 -c "$(curl -s https://x)"',
    "curl https://x | base64 -d | sh",
    "base64 -d payload | sh",
    'bash <<< "$(curl https://x)"',
]


@pytest.mark.parametrize("text", PIPE_TO_SHELL)
def test_code_fetched_or_decoded_at_run_time_is_blocked(text: str) -> None:
    check(text, "shell.pipe_to_shell", BLOCK)


# --- reads, writes and the rest --------------------------------------------------------------

READS = [
    "ls -la /etc",
    "cat /etc/hosts",
    "head -n 5 f",
    "tail -f /var/log/syslog",
    "less f",
    "grep -r foo .",
    "egrep 'a|b' f",
    "rg TODO",
    "find . -name '*.py'",
    "find / -type f -size +100M",
    "ps aux",
    "top -b -n 1",
    "df -h",
    "du -sh /var",
    "free -m",
    "uptime",
    "whoami",
    "id",
    "hostname",
    "date",
    "date +%s",
    "env",
    "printenv HOME",
    "echo hello",
    "printf '%s\\n' a",
    "wc -l f",
    "sort f | uniq -c | sort -rn | head",
    "cut -d: -f1 /etc/passwd",
    "awk '{print $1}' f",
    "awk -F: '$3 > 1000 {print $1}' /etc/passwd",
    "sed -n '1,5p' f",
    "sed 's/a/b/g' f",
    "jq .items f.json",
    "stat f",
    "file f",
    "which python3",
    "journalctl -u nginx --since today",
    "systemctl status nginx",
    "systemctl is-active nginx",
    "systemctl list-units --failed",
    "systemctl show nginx -p MainPID",
    "docker ps -a",
    "docker logs --tail 100 web",
    "docker inspect web",
    "git status",
    "git log --oneline -5",
    "git diff HEAD~1",
    "git show HEAD",
    "git branch -a",
    "git status -uno",
    "git stash list",
    "ip addr",
    "ip route show",
    "ss -tlnp",
    "netstat -an",
    "dig example.com",
    "nslookup example.com",
    "ping -c 3 example.com",
    "curl https://example.com",
    "curl -sS -H 'Accept: application/json' https://api/x",
    "curl -I https://example.com",
    "curl -o /dev/null -w '%{http_code}' https://x",
    "wget -qO- https://example.com",
    "cd /var/log && ls",
    "pwd",
    "true",
    "test -f x && echo yes",
    "[ -d /tmp ] && echo yes",
    "[[ -f /etc/hosts ]] && cat /etc/hosts",
    "echo $((1 + 2))",
    "(( i = 1 + 2 ))",
    "ls > /dev/null 2>&1",
    "ls 2>/dev/null",
    "ls >&2",
    "for f in *.log; do wc -l $f; done",
    "while read l; do echo $l; done < f",
    "case $1 in start) echo s;; *) echo other;; esac",
    "if [ -f x ]; then cat x; else echo none; fi",
    "x=1; echo $x",
    "export LANG=C; ls",
    "diff <(ls a) <(ls b)",
    "f() { ls; }; f",
    "function show { cat /etc/hosts; }\nshow",
    "cat <<EOF\nhello $USER\nEOF",
    "sudo -l",
    "kubectl get pods -A",
    "psql -c 'SELECT count(*) FROM orders'",
    "# only a comment",
    "",
]


@pytest.mark.parametrize("text", READS)
def test_reads_are_allowed(text: str) -> None:
    response = judged(text)
    assert response.action == ALLOW, (text, [(m.rule_id, m.reason) for m in response.matches])
    assert rules(response) <= {"shell.read", "k8s.read", "read.select"}


REVIEWED = [
    ("echo hi > out.txt", "shell.write"),
    ("echo hi >> out.txt", "shell.write"),
    ("ls &> out.txt", "shell.write"),
    ("sed -i 's/a/b/' f", "shell.write"),
    ("sed --in-place=.bak 's/a/b/' f", "shell.write"),
    ("echo x | tee f", "shell.write"),
    ("truncate -s 0 f", "shell.write"),
    ("dd if=a of=b", "shell.write"),
    ("cp a b", "shell.write"),
    ("mv a b", "shell.write"),
    ("ln -s a b", "shell.write"),
    ("mkdir -p x/y", "shell.write"),
    ("touch f", "shell.write"),
    ("rm f", "shell.write"),
    ("rm -f /tmp/x", "shell.write"),
    ("rmdir d", "shell.write"),
    ("chmod 644 f", "shell.write"),
    ("chown bob f", "shell.write"),
    ("chmod -R 755 ./dist", "shell.write"),
    ("git commit -m x", "shell.write"),
    ("git push origin main", "shell.write"),
    ("git reset --hard HEAD~1", "shell.write"),
    ("git checkout main", "shell.write"),
    ("git stash", "shell.write"),
    ("apt-get install -y nginx", "shell.write"),
    ("apt install curl", "shell.write"),
    ("yum install -y httpd", "shell.write"),
    ("pip install requests", "shell.write"),
    ("npm install", "shell.write"),
    ("curl -o page.html https://x", "shell.write"),
    ("curl -O https://x/file.tgz", "shell.write"),
    ("wget https://x/file.tgz", "shell.write"),
    ("tar -xzf a.tgz", "shell.write"),
    ("tar czf a.tgz dir", "shell.write"),
    ("gzip big.log", "shell.write"),
    ("sort -o f f", "shell.write"),
    ("awk '{print > \"out\"}' f", "shell.write"),
    ("date -s '2020-01-01'", "shell.write"),
    ("sysctl -w vm.swappiness=10", "shell.write"),
    ("ip link set eth0 down", "shell.write"),
    ("journalctl --vacuum-size=100M", "shell.write"),
    ("curl -X POST https://api/x", "shell.network_write"),
    ("curl -d 'a=1' https://api/x", "shell.network_write"),
    ("curl --data-binary @f https://api/x", "shell.network_write"),
    ("curl -F file=@x https://api/x", "shell.network_write"),
    ("curl -T f https://x", "shell.network_write"),
    ("curl -XDELETE https://api/x/1", "shell.network_write"),
    ("wget --post-data 'a=1' https://x", "shell.network_write"),
    ("kill 1234", "shell.signal"),
    ("kill -HUP 1234", "shell.signal"),
    ("kill -9 $(pidof nginx)", "shell.signal"),
    ("pkill -f gunicorn", "shell.signal"),
    ("systemctl restart nginx", "shell.service"),
    ("sudo systemctl stop nginx", "shell.service"),
    ("systemctl enable --now nginx", "shell.service"),
    ("systemctl daemon-reload", "shell.service"),
    ("service nginx restart", "shell.service"),
    ("docker restart web", "shell.service"),
    ("docker stop web", "shell.service"),
    ("docker rm -f web", "shell.service"),
    ("supervisorctl restart app", "shell.service"),
    ("docker compose down", "shell.service"),
    ("docker volume rm data", "shell.write"),
    ("docker system prune -af", "shell.write"),
    ("kubectl config use-context prod", "shell.write"),
    ("python -c 'print(1)'", "shell.interpreter"),
    ("python3 -c 'import os; os.remove(\"x\")'", "shell.interpreter"),
    ("perl -e 'unlink q(x)'", "shell.interpreter"),
    ("perl -pe 's/a/b/' f", "shell.interpreter"),
    ("ruby -e 'puts 1'", "shell.interpreter"),
    ("node -e 'console.log(1)'", "shell.interpreter"),
    ("php -r 'echo 1;'", "shell.interpreter"),
    ("awk 'BEGIN { system(\"rm -rf /tmp/x\") }'", "shell.interpreter"),
    ("awk '{ print | \"sh\" }' f", "shell.interpreter"),
    ("sed 's/x/y/e' f", "shell.interpreter"),
    ("python3 manage.py migrate", "shell.interpreter"),
    ("bash deploy.sh", "shell.interpreter"),
    ("source ./env.sh", "shell.interpreter"),
    ("bash", "shell.interpreter"),
    ("sudo -i", "shell.interpreter"),
    ("cat script | sh", "shell.interpreter"),
    ("git -c core.pager=less log", "shell.interpreter"),
    ("git fetch --upload-pack='rm -rf ~' origin", "shell.interpreter"),
    ("$cmd", "shell.dynamic"),
    ("${CMD} -rf /", "shell.dynamic"),
    ("$(echo rm) -rf /", "shell.dynamic"),
    ("`which rm` -rf /", "shell.dynamic"),
    ("r{m,} -rf /", "shell.dynamic"),
    ("*", "shell.dynamic"),
    ('bash -c "$CMD"', "shell.dynamic"),
    ('eval "$CMD"', "shell.dynamic"),
    ("PATH=/tmp/evil:$PATH ls", "shell.dynamic"),
    ("export LD_PRELOAD=/tmp/x.so", "shell.dynamic"),
    ("frobnicate --all", "shell.unknown"),
    ("./ls", "shell.unknown"),
    ("/opt/app/bin/cat f", "shell.unknown"),
    ("kubectl frobnicate", "shell.unknown"),
    # a function that may not exist when called leaves the program of that name
    ("if false; then mytool() { :; }; fi; mytool", "shell.unknown"),
    ("mytool; mytool() { :; }", "shell.unknown"),
    ("mytool() { :; }; unset -f mytool; mytool", "shell.unknown"),
]


@pytest.mark.parametrize(("text", "rule_id"), REVIEWED)
def test_writes_and_what_cannot_be_judged_are_reviewed(text: str, rule_id: str) -> None:
    check(text, rule_id, REVIEW)


# --- what a command carries: SQL and Kubernetes ----------------------------------------------

CARRIED = [
    ("psql -c 'DROP TABLE users'", "ddl.drop", BLOCK),
    ('psql -h db -U app -d shop -c "DELETE FROM orders"', "dml.delete_all", BLOCK),
    ("psql --command='TRUNCATE t'", "dml.truncate", BLOCK),
    ("psql -c 'SELECT 1' -c 'DROP TABLE x'", "ddl.drop", BLOCK),
    ("psql <<EOF\nDROP TABLE users;\nEOF", "ddl.drop", BLOCK),
    ("psql -f - <<SQL\nDROP SCHEMA app CASCADE;\nSQL", "ddl.drop", BLOCK),
    ("psql <<< 'TRUNCATE t'", "dml.truncate", BLOCK),
    ("echo 'DROP TABLE x' | psql", "ddl.drop", BLOCK),
    ("sudo -u postgres psql -c 'DROP DATABASE app'", "ddl.drop", BLOCK),
    ("ssh db1 psql -c \\'DROP TABLE x\\'", "ddl.drop", BLOCK),
    ("psql -c 'UPDATE t SET a = 1 WHERE id = 2'", "write.update", REVIEW),
    ("psql -c 'SELECT purge_everything()'", "write.call_unknown", REVIEW),
    ("psql -c 'SELEC 1'", "parse.error", BLOCK),
    ("psql", "shell.interpreter", REVIEW),
    ("psql -f migrate.sql", "shell.interpreter", REVIEW),
    ('psql -c "$SQL"', "shell.dynamic", REVIEW),
    ("psql -l", "shell.read", ALLOW),
    ("kubectl get pods -n prod", "k8s.read", ALLOW),
    ("kubectl describe deploy web", "k8s.read", ALLOW),
    ("kubectl logs -f web-1", "k8s.read", ALLOW),
    ("kubectl top nodes", "k8s.read", ALLOW),
    ("kubectl auth can-i delete pods", "k8s.read", ALLOW),
    ("kubectl version", "k8s.read", ALLOW),
    ("kubectl apply -f deploy.yaml", "k8s.write", REVIEW),
    ("kubectl scale deploy web --replicas=3", "k8s.write", REVIEW),
    ("kubectl rollout restart deploy/web", "k8s.write", REVIEW),
    ("kubectl rollout status deploy/web", "k8s.read", ALLOW),
    ("kubectl drain node-1", "k8s.write", REVIEW),
    ("kubectl delete pod web-1", "k8s.delete", REVIEW),
    ("kubectl delete namespace prod", "k8s.delete_namespace", BLOCK),
    ("kubectl delete ns/prod", "k8s.delete_namespace", BLOCK),
    ("kubectl delete pods --all", "k8s.deletecollection", BLOCK),
    ("kubectl delete pods -l app=web", "k8s.deletecollection", BLOCK),
    ("kubectl delete crd widgets.example.com", "k8s.delete_cluster_critical", BLOCK),
    ("kubectl delete node node-1", "k8s.delete_cluster_critical", BLOCK),
    ("kubectl delete pv data", "k8s.delete_cluster_critical", BLOCK),
    ("kubectl exec -it web -- sh", "k8s.exec", REVIEW),
    ("kubectl port-forward svc/web 8080:80", "k8s.exec", REVIEW),
    ("kubectl cp web:/tmp/x x", "k8s.exec", REVIEW),
    ("kubectl create rolebinding x --role=admin --user=bob", "k8s.rbac", BLOCK),
    ("kubectl create clusterrolebinding x --clusterrole=cluster-admin", "k8s.rbac", BLOCK),
    ("kubectl apply -f x.yaml --dry-run=server", "k8s.dry_run", ALLOW),
    ("kubectl delete ns prod --dry-run=client", "k8s.dry_run", ALLOW),
    ("kubectl create token default", "k8s.credentials", BLOCK),
    ("kubectl auth reconcile -f rbac.yaml", "k8s.rbac", BLOCK),
]


@pytest.mark.parametrize(("text", "rule_id", "action"), CARRIED)
def test_psql_and_kubectl_are_judged_by_the_sql_and_kubernetes_rules(
    text: str, rule_id: str, action: int
) -> None:
    check(text, rule_id, action)


def test_carried_rules_are_decided_as_a_shell_commands_and_policies_can_name_them() -> None:
    policy = parse_policy(
        "version: 1\nrules:\n"
        "  - match: {kind: sql}\n    actions: {ddl.drop: allow}\n"
        "  - match: {kind: shell, groups: [dba]}\n    actions: {ddl.drop: review}\n"
    )
    text = "psql -c 'DROP TABLE x'"
    assert judged(text, policy).action == BLOCK  # the sql entry does not reach shell commands
    response = judged(text, policy, groups=("dba",))
    assert response.action == REVIEW and response.matches[0].decided_by == "policy.yaml:6"


# --- structure -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "rm -rf /)",
        "echo 'unterminated",
        'echo "unterminated',
        "if true; then ls",
        "ls |",
        "ls &&",
        "echo $(",
        "case x in",
        "for x in a; do",
        "{ ls",
        "bash -c 'rm -rf /)'",
        "echo a\x00b",
        "bash -c",
        "exec 3<>f",
        # tree-sitter misreads these; bash would run the rm
        "bash <<'EOF'\n\\rm -rf /\nEOF",
        "! for i in a; do rm -rf /; done",
        "! { rm -rf /; }",
        "{ ls; } > f -rf /",
        "(" * 3000 + "ls" + ")" * 3000,
    ],
)
def test_text_that_does_not_parse_is_blocked_by_a_rule_no_policy_relaxes(text: str) -> None:
    relaxed = parse_policy("version: 1\ndefaults: {write: allow, destructive: allow}\n")
    response = judged(text, relaxed)
    assert response.action == BLOCK and "shell.unparseable" in rules(response)


@pytest.mark.parametrize("text", ["{\U00031860", "echo {\U000f2211x}", "ls {1..\U000e0000}"])
def test_text_the_parser_would_read_out_of_bounds_is_refused_before_parsing(text: str) -> None:
    # tree-sitter-bash 0.25.1 hands the character after `{` to isdigit(): above U+00FF it
    # reads out of bounds and can crash the classifier (tree-sitter-bash issue #337).
    response = judged(text)
    assert rules(response) == {"shell.unparseable"}
    assert "cannot read safely" in response.matches[0].reason
    assert judged('echo {é} \'{"name": "日本"}\'').action == ALLOW


def test_shells_nested_too_deeply_fail_closed() -> None:
    text = "ls"
    for _ in range(12):
        text = f"bash -c {_quote(text)}"
    response = judged(text)
    assert response.action == BLOCK
    assert "nests shells too deeply" in response.matches[0].reason


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def test_a_verdict_is_the_most_severe_match_and_reads_are_dropped_beside_others() -> None:
    response = judged("ls; cp a b; rm -rf /")
    assert [m.rule_id for m in response.matches] == ["shell.rm_root", "shell.write"]
    assert response.action == BLOCK
    assert not response.cache_key


def test_argv_is_judged_as_is_without_a_shell() -> None:
    assert judged(argv=["ls", "-la", "/"]).action == ALLOW
    assert rules(judged(argv=["rm", "-rf", "/"])) == {"shell.rm_root"}
    assert rules(judged(argv=["bash", "-c", "rm -rf /"])) == {"shell.rm_root"}
    # No shell: `;` and `$(...)` are plain words to echo.
    assert judged(argv=["echo", "a;", "rm", "-rf", "/"]).action == ALLOW
    assert judged(argv=["sudo", "systemctl", "restart", "nginx"]).action == REVIEW


def test_an_interactive_shell_is_blocked_unless_the_policy_allows_it() -> None:
    response = judged(interactive=True)
    assert rules(response) == {"shell.interactive"} and response.action == BLOCK
    humans = parse_policy(
        "version: 1\nrules:\n  - match: {kind: shell, groups: [sre]}\n"
        "    actions: {shell.interactive: allow}\n"
    )
    assert judged(interactive=True, policy=humans, groups=("sre",)).action == ALLOW
    assert judged(interactive=True, policy=humans).action == BLOCK


def test_a_shell_request_without_its_detail_fails_closed() -> None:
    request = cpb.ClassifyRequest(kind=cpb.COMMAND_KIND_SHELL, text="ls")
    response = classify(request, Policy.builtin())
    assert rules(response) == {"shell.unparseable"} and response.action == BLOCK


def test_reviews_are_routed_by_kind() -> None:
    policy = parse_policy(
        "version: 1\napprovals:\n  - match: {kind: shell}\n    approvers: [ops]\n    mode: async\n"
    )
    response = judged("systemctl restart nginx", policy)
    assert response.action == REVIEW and list(response.approver_groups) == ["ops"]
    assert response.approval_mode == pb.APPROVAL_MODE_ASYNC


def test_every_shell_rule_is_registered_with_a_hint_and_the_shell_kind() -> None:
    assert cpb.COMMAND_KIND_SHELL in ANALYZERS
    for rule in SHELL_RULES.values():
        assert rule.id.startswith("shell.") and rule.kind is CommandKind.SHELL and rule.hint
