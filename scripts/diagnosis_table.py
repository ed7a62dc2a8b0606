"""The coverage tables of docs/DIAGNOSIS.md, made from the corpus of real SMTP replies
(tests/data/smtp_replies.csv): how many replies each hint code gets, and where they were quoted from.

    python scripts/diagnosis_table.py          rewrite the tables in docs/DIAGNOSIS.md
    python scripts/diagnosis_table.py --check  exit 1 if the document no longer matches the corpus
"""
import csv
import sys
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webapp.smtpcheck.hints import CATALOGUE  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "smtp_replies.csv"
DOC = ROOT / "docs" / "DIAGNOSIS.md"
BEGIN, END = "<!-- corpus tables: scripts/diagnosis_table.py -->", "<!-- end of corpus tables -->"
KINDS = {"temporary": "retried by itself (a 5xx fails)", "permanent": "fails, not retried (a 4xx is retried)",
         "pausing": "pauses sending (never on a 4xx)"}


def corpus() -> list[dict]:
    with CORPUS.open(encoding="utf-8", newline="") as lines:
        return list(csv.DictReader(line for line in lines if not line.startswith("#")))


def tables(replies: list[dict]) -> str:
    counts = Counter(reply["expected"] for reply in replies)
    deferred = Counter(reply["expected"] for reply in replies if reply["code"].startswith("4"))
    providers = defaultdict(set)
    for reply in replies:
        providers[reply["expected"]].add(reply["provider"])
    lines = [f"{len(replies)} real replies from {len({r['provider'] for r in replies})} providers and "
             f"mail servers, {sum(deferred.values())} of them 4xx.", "",
             "| hint code | what the sender does | real replies | of them 4xx (retried) | providers |",
             "|---|---|---:|---:|---|"]
    for code in sorted(CATALOGUE, key=lambda c: (-counts[c], c)):
        seen = ", ".join(sorted(providers[code])) or "— (network, TLS or guard failures: no reply text)"
        lines.append(f"| `{code}` | {KINDS[CATALOGUE[code].kind]} | {counts[code]} | {deferred[code]} | {seen} |")
    hosts = Counter(_where(reply["source"]) for reply in replies)
    lines += ["", "| source | replies |", "|---|---:|"]
    lines += [f"| {host} | {count} |" for host, count in sorted(hosts.items(), key=lambda item: (-item[1], item[0]))]
    return "\n".join(lines)


def _where(url: str) -> str:
    """A source's site; on GitHub, its repository."""
    parts = urlsplit(url)
    if parts.netloc == "github.com":
        return "github.com/" + "/".join(parts.path.strip("/").split("/")[:2])
    return parts.netloc


def rendered(document: str, replies: list[dict]) -> str:
    head, _, rest = document.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{tables(replies)}\n{END}{tail}"


def main(argv: list[str]) -> int:
    document = DOC.read_text(encoding="utf-8")
    fresh = rendered(document, corpus())
    if "--check" in argv:
        if fresh != document:
            print(f"{DOC.relative_to(ROOT)} is stale: run python scripts/diagnosis_table.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
