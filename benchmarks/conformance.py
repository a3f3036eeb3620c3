"""Conformance census: fastgrad against PyTorch's test databases (op_db, module_db).

    python benchmarks/conformance.py                 # the census table per database
    python benchmarks/conformance.py -v              # and every entry that does not agree, with why
    python benchmarks/conformance.py --update        # rewrite tests/conformance/*_status.txt
    python benchmarks/conformance.py --update fft. linalg.eig   # only entries with these prefixes
    python benchmarks/conformance.py --db op         # one database
    python benchmarks/conformance.py --recorded      # the census the status files record, without a run

Every entry is checked on its first FULL_LIMIT samples per dtype in float32 and float64 (what
``pytest tests/conformance --conformance=full`` checks; op_db has up to 1,000 samples an entry,
``--limit 0`` takes them all). The status files are the ratchet
tests/conformance holds fastgrad to; optim_db has its own test (tests/conformance/test_optim_db.py).
Needs torch and expecttest (``pip install -e ".[test]"``).
"""
import argparse
import collections
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "conformance")]  # this checkout's fastgrad, not an installed one

import dbcheck  # noqa: E402


def databases(which):
    result = []
    if which in ("all", "op"):
        import dbcheck_ops
        result.append(("op_db", dbcheck_ops))
    if which in ("all", "module"):
        import dbcheck_modules
        result.append(("module_db", dbcheck_modules))
    return result


def census(name, module, prefixes, verbose, recorded, limit):
    statuses, details = {}, {}
    for key, info, kind in module.entries():
        if prefixes and not key.startswith(tuple(prefixes)):
            continue
        start = time.process_time()
        status, detail = module.check(key, info, kind, limit=limit)
        statuses[key], details[key] = status, detail
        if verbose > 1:
            print("%s %s %.1f s" % (key, status, time.process_time() - start), file=sys.stderr, flush=True)
        if verbose and dbcheck.status_kind(status) != dbcheck.AGREE:
            print("  %-50s %-10s %s" % (key, status if len(status) < 30 else dbcheck.status_kind(status), detail))
        if verbose > 1 and recorded.get(key) not in (None, status):
            print("  ! %s: was %s" % (key, recorded[key]))
    return statuses, details


def table(name, statuses, unit):
    counts = collections.Counter(dbcheck.status_kind(s) for s in statuses.values())
    # an entry (all its call variants) agrees when every variant does
    by_entry = collections.defaultdict(list)
    for key, status in statuses.items():
        by_entry[key.split(":")[0]].append(dbcheck.status_kind(status))
    in_scope = [v for v in by_entry.values() if dbcheck.OUT_OF_SCOPE not in v]
    agree = sum(all(s == dbcheck.AGREE for s in v) for v in in_scope)
    first = sum(v[0] == dbcheck.AGREE for v in in_scope)
    rows = ["| %s | %s | agree | differ | raise | missing | out of scope |" % (name, unit),
            "|---|---|---|---|---|---|---|",
            "| checks | %d | %d | %d | %d | %d | %d |" % (len(statuses), *(counts[s] for s in dbcheck.STATUSES))]
    summary = ("%s: %d entries, %d in scope; %d (%.1f%%) agree in every call variant, %d (%.1f%%) in the %s"
               % (name, len(by_entry), len(in_scope), agree, 100.0 * agree / max(1, len(in_scope)), first,
                  100.0 * first / max(1, len(in_scope)), "function" if unit == "variants" else "module"))
    return "\n".join(rows), summary


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefixes", nargs="*", help="only entries whose key starts with one of these")
    parser.add_argument("--db", choices=("all", "op", "module"), default="all")
    parser.add_argument("--update", action="store_true", help="write the status files")
    parser.add_argument("--limit", type=int, default=dbcheck.FULL_LIMIT,
                        help="samples per dtype and entry (default %(default)s, as the status files; 0: all)")
    parser.add_argument("--recorded", action="store_true", help="print the census the status files record (no run)")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    args = parser.parse_args()
    import fastgrad
    print("fastgrad backend %s, BLAS %s" % (fastgrad.get_backend(), getattr(fastgrad._backend, "BLAS", "?")))
    for name, module in databases(args.db):
        start = time.process_time()
        recorded = dbcheck.read_status(module.STATUS_FILE) if module.STATUS_FILE.exists() else {}
        if args.recorded:
            rows, summary = table(name, recorded, "variants" if name == "op_db" else "modules")
            print(rows + "\n" + summary)
            continue
        statuses, _ = census(name, module, args.prefixes, args.verbose, recorded, args.limit or None)
        if args.update:
            merged = dict(recorded) if args.prefixes else {}
            merged.update(statuses)
            keys = {key for key, _, _ in module.entries()}
            merged = {k: v for k, v in merged.items() if k in keys}
            dbcheck.write_status(module.STATUS_FILE, merged, module.HEADER)
            changed = sorted(k for k in statuses if recorded.get(k) != statuses[k])
            print("%s: wrote %s (%d entries changed)" % (name, module.STATUS_FILE.relative_to(ROOT), len(changed)))
        rows, summary = table(name, statuses, "variants" if name == "op_db" else "modules")
        print(rows)
        print(summary)
        print("(%.0f s CPU)" % (time.process_time() - start))


if __name__ == "__main__":
    main()
