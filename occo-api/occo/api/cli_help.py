"""What each ``occo`` subcommand's ``--help`` says beyond its options: a paragraph on what
it does and examples. docs/user/cli.rst shows the same text (generated from the parser).
"""

from __future__ import annotations

__all__ = ["COMMANDS", "examples_text"]

# name -> (description paragraph, examples as (command line, what it does))
COMMANDS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "validate": (
        "Compile a description and its node definitions as a build would, touching no "
        "cloud and storing nothing. Every mistake is reported at once with its file, line "
        "and key; a warning (a key Occopus ignored, a likely typo) does not fail it.",
        [("occo validate infra.yaml", "node_definitions.yaml beside it"),
         ("occo validate infra.yaml --nodes defs/web.yaml --nodes defs/db.yaml",
          "definitions from several files"),
         ("occo validate infra.yaml --json", "errors and warnings as JSON")]),
    "import": (
        "Store node definitions in the state store, so that later builds of descriptions "
        "without a node_definitions.yaml beside them find them (Occopus's occopus-import).",
        [("occo import node_definitions.yaml", "store (or replace) these definitions"),
         ("occo import defs/*.yaml --json", "several files; counts as JSON")]),
    "plan": (
        "Show what a build of the description (or a maintenance pass of a stored "
        "infrastructure) would create and drop, and why, without touching any cloud.",
        [("occo plan infra.yaml", "what building it would do"),
         ("occo plan -i bench", "what a maintenance pass of the stored 'bench' would do"),
         ("occo plan infra.yaml --json", "the same as JSON")]),
    "build": (
        "Compile the description, check every backend and credential, store the "
        "infrastructure and create its nodes in dependency order, each as soon as the "
        "nodes it depends on are ready. Building a description again continues or scales "
        "the stored infrastructure of that name. A failed build is rolled back unless "
        "--keep-on-failure; Ctrl-C stops it, rolls back what is in flight and exits 130. "
        "Instances built from a changed definition are replaced in turn, within each "
        "node's update limits; --rollback -i INFRA returns to the definition before.",
        [("occo build infra.yaml", "build it; progress on stderr, the final table on stdout"),
         ("occo build infra.yaml --keep-on-failure", "keep what became ready if it fails"),
         ("occo build --rollback -i web-cluster", "return to the previous definition"),
         ("occo --state redis://127.0.0.1:6379/0 build infra.yaml",
          "with the state in Redis")]),
    "maintain": (
        "Heal and scale stored infrastructures: replace instances that failed or are "
        "unhealthy, apply queued scaling requests, keep each node within its limits. One "
        "pass by default; --interval runs passes until stopped.",
        [("occo maintain -i web-cluster", "one pass over one infrastructure"),
         ("occo maintain --interval 30", "every maintained infrastructure, every 30 s"),
         ("occo maintain -i 3f2a --clean-orphans",
          "also drop cloud resources tagged with it that the store does not know")]),
    "scale": (
        "Scale one node of an infrastructure: by a change, to a count, or by removing one "
        "instance. The request is queued and applied at once (--queue-only leaves it to the "
        "next maintenance pass). A count outside the node's [min, max] is clamped, and "
        "says so; naming no known node or instance is exit 2 and lists what there is.",
        [("occo scale -i web-cluster -n app -c +2", "two more app instances"),
         ("occo scale -i web-cluster -n app -s 5", "exactly five"),
         ("occo scale -i web-cluster -n app -f 198.51.100.7", "remove the one at that address")]),
    "destroy": (
        "Drop every node of an infrastructure on its clouds and forget it. Drops that fail "
        "are retried and reported; the record is kept until every resource is gone.",
        [("occo destroy -i web-cluster", "by name"),
         ("occo destroy -i 3f2a9c1e", "by a unique prefix of its id")]),
    "status": (
        "Show an infrastructure's nodes, instances, states, addresses and scaling limits "
        "as the store holds them, with when each was last confirmed; --refresh asks the "
        "clouds and health checks now (nothing is healed or written).",
        [("occo status -i web-cluster", "the stored state"),
         ("occo status -i web-cluster --refresh", "what the clouds say now"),
         ("occo status -i web-cluster --json", "the same as JSON")]),
    "graph": (
        "Write the dependency graph of a stored infrastructure: one box per node with its "
        "type, ready/wanted (min-max) and its instance count per state, an arrow from each "
        "node to the node it depends on, coloured by health. DOT by default; SVG or PNG "
        "through Graphviz when it is installed.",
        [("occo graph -i web-cluster", "DOT on standard output"),
         ("occo graph -i web-cluster -o web-cluster.svg", "drawn by Graphviz"),
         ("occo graph -i web-cluster --json", "nodes, counts and edges as JSON")]),
    "list": (
        "List the infrastructures in the store: id, name, state, ready instances and "
        "whether maintenance looks after them.",
        [("occo list", "a table"),
         ("occo --state /srv/occo/state.sqlite list --json", "another store, as JSON")]),
    "events": (
        "Print an infrastructure's event log (creates, readiness, failures, drops, "
        "scaling), oldest first; --after resumes after a position already seen.",
        [("occo events -i web-cluster", "the whole log"),
         ("occo events -i web-cluster --after 120 --limit 50", "the next 50 after 120")]),
    "serve": (
        "Run the REST service (token auth, 127.0.0.1 by default) and maintain the attached "
        "infrastructures in the background. The token is created on first start in the "
        "token file (rest.token_file).",
        [("occo serve", "on 127.0.0.1:5000"),
         ("occo serve --port 8080 --scaling-host 10.0.0.1",
          "and a listener for the nodes' scaling requests")]),
    "worker": (
        "Serve one endpoint (cloud handler, service composer or infrastructure processor) "
        "over the amqp transport, for the distributed set-up (docs: Distributed).",
        [("occo --config occo.yaml worker cloudhandler", "one cloud handler worker"),
         ("occo --config occo.yaml worker infraprocessor", "one processor worker")]),
    "config": (
        "Print the effective configuration: the file's values over the defaults, secrets "
        "redacted, and under limits: the pace OCCO keeps on each cloud and who set it.",
        [("occo config show", "as YAML"),
         ("occo --config lab.yaml config show --json", "another file, as JSON")]),
    "store": (
        "Work on the state store itself: migrate brings its schema up to date (PostgreSQL "
        "also does so on start, under a lock); check reads and counts every record, "
        "writing nothing; copy moves everything (infrastructures, instances, events, "
        "queued requests) to another store and compares the counts, refusing a target "
        "that is not empty unless --force.",
        [("occo --state postgresql://occo@db.example.org/occo store migrate",
          "apply the schema migrations this OCCO has"),
         ("occo store check --json", "the configured store's counts, as JSON"),
         ("occo store copy ~/.local/share/occo/state.sqlite "
          "postgresql://occo@db.example.org/occo", "from SQLite into PostgreSQL"),
         ("occo store copy postgresql://occo@db.example.org/occo backup.sqlite --force",
          "back into a file that holds something already")]),
    "version": (
        "Print the versions of OCCO's installed packages and of Python.",
        [("occo version", "every package"), ("occo --version", "occo-api's alone")]),
}


def examples_text(name: str) -> str | None:
    """The examples of ``name`` as an argparse epilog (kept as written)."""
    entry = COMMANDS.get(name)
    if entry is None:
        return None
    lines = ["examples:"]
    for command, what in entry[1]:
        lines.append(f"  {command}" + (f"\n      {what}" if what else ""))
    return "\n".join(lines)
