"""The full-size fault run of the scaled-out shape: ``python bench/cluster.py [--jobs 2000] [--window 240]``.

The same scenario as ``tests/cluster/test_cluster.py`` (2 API replicas, 3 workers, a PostgreSQL server of its
own, S3 on moto's server, a provider failing 30 % of calls; two workers and one replica SIGKILLed, PostgreSQL
restarted), at the size a CI run on 2 cores cannot afford. Prints the same table of proofs; exit code 1 if a proof
fails. ``--redis`` runs it on Redis wake-ups with Redis SIGKILLed once.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and bench/queue.py would shadow the standard
# library's "queue" (which urllib3, under moto and boto3, imports).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402

from moto.server import ThreadedMotoServer  # noqa: E402

from tests.cluster import scenario  # noqa: E402
from tests.cluster.harness import Cluster  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000, help="job bodies created over HTTP (batches count once)")
    parser.add_argument("--window", type=float, default=240.0, help="seconds over which they are created")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--redis", action="store_true", help="Redis wake-ups, Redis SIGKILLed once")
    args = parser.parse_args()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    cluster = Cluster(s3_endpoint=f"http://{host}:{port}", seed=args.seed, use_redis=args.redis)
    try:
        cluster.start()
        report = asyncio.run(scenario.run(cluster, jobs=args.jobs, window=args.window, seed=args.seed))
        print(report.table(f"cluster, {'Redis' if args.redis else 'LISTEN/NOTIFY'} wake-ups, {args.jobs} bodies"))
        return 0 if report.ok() else 1
    finally:
        cluster.close()
        moto.stop()


if __name__ == "__main__":
    raise SystemExit(main())
