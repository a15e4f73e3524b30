"""Every citation of a reasoning document lands on a section that exists in it.

Code and docs cite `docs/hubspot.md §1.7`, `docs/openicf.md §1.6-§1.7`, `docs/hardening.md §B3`:
the file must exist and hold a heading for each section named. A file that names one of these
documents may also cite bare sections (`§1.8`); those must be headings of a document it names.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REASONING = ("hubspot", "openicf", "hardening")
TEXT_SUFFIXES = {".py", ".md", ".json", ".toml", ".yml", ".yaml", ".txt", ".properties", ""}

SECTION = r"§\s*[A-Z]?\d+(?:\.\d+)*"
CITATION = re.compile(
    r"docs/(?P<doc>[\w-]+)\.md[)`\"']?(?P<sections>(?:[\s,(]*(?:and\s+|to\s+|-\s*)?"
    + SECTION
    + r")+)"
)
BARE = re.compile(r"(?<![\w/.])" + SECTION)
HEADING = re.compile(r"^#+\s+§?([A-Z]?\d+(?:\.\d+)*)\.?\s", re.MULTILINE)
"""`## §1.7 Search`, or `## 9. Objects` / `### 9.1 Attribute sets` (the section sign optional)."""


def repository_files() -> list[Path]:
    """Tracked-looking text files: everything but hidden and generated directories."""
    files = []
    for path in sorted(ROOT.rglob("*")):
        parts = path.relative_to(ROOT).parts
        if any(p.startswith(".") and p != ".ci" for p in parts) or "__pycache__" in parts:
            continue
        if any(p in {"build", "run"} or p.endswith(".egg-info") for p in parts[:-1]):
            continue
        if path.is_file() and path.suffix in TEXT_SUFFIXES:
            files.append(path)
    return files


def text_of(path: Path) -> str:
    """The file's text, with JSON's escaped section sign read as the sign."""
    return path.read_text(errors="replace").replace("\\u00a7", "§")


def sections(name: str) -> set[str]:
    """The section numbers that head a part of docs/<name>.md."""
    path = ROOT / "docs" / f"{name}.md"
    return {"§" + h for h in HEADING.findall(path.read_text())} if path.exists() else set()


def citations() -> list[tuple[str, str, str]]:
    """(file, doc, section) for every explicit citation in the repository."""
    found = []
    for path in repository_files():
        for match in CITATION.finditer(text_of(path)):
            for section in re.findall(SECTION, match["sections"]):
                found.append((str(path.relative_to(ROOT)), match["doc"], section.replace(" ", "")))
    return found


def test_the_reasoning_documents_exist_and_are_cited() -> None:
    cited = {doc for _, doc, _ in citations()}
    for name in REASONING:
        assert (ROOT / "docs" / f"{name}.md").is_file()
        assert name in cited


def test_every_cited_section_is_a_heading_of_the_cited_document() -> None:
    wrong = [
        f"{where}: docs/{doc}.md {section}"
        for where, doc, section in citations()
        if section not in sections(doc)
    ]
    assert citations() and not wrong, "\n".join(wrong)


def test_bare_sections_are_headings_of_a_document_the_file_names() -> None:
    wrong = []
    for path in repository_files():
        text = text_of(path)
        named = {doc for doc in REASONING if f"docs/{doc}.md" in text}
        if path.parent.name == "docs" and path.stem in REASONING:
            named.add(path.stem)  # a reasoning document cites its own sections bare
        if not named:
            continue
        known = set().union(*(sections(doc) for doc in named))
        for line in text.splitlines():
            if "RFC" in line:
                continue  # an RFC's own sections
            for section in BARE.findall(CITATION.sub("", line)):
                if section.replace(" ", "") not in known:
                    wrong.append(f"{path.relative_to(ROOT)}: {section} ({line.strip()[:80]})")
    assert not wrong, "\n".join(wrong)
