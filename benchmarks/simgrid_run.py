"""Run one communication pattern on SimGrid (CM02, no cross-traffic, unit factors, no TCP window bound).

Usage: python3 simgrid_run.py SPEC.json   (a Python that has SimGrid's bindings: Debian's
python3-simgrid 3.32 for /usr/bin/python3). SPEC is written by simgrid_compare.py from a distsim
run: the directed links (bandwidth, latency), the links of each rank pair's route, and the
program (who sends how many bytes to whom, in which order, waiting for what). Prints the
makespan. Each distsim directed link becomes one SimGrid link used in one direction only, and
routes are distsim's own, so both simulators see exactly the same platform.
"""

import json
import sys

from simgrid import Actor, Engine, LinkInRoute, Mailbox, NetZone

CONFIG = ["--cfg=network/model:CM02", "--cfg=network/crosstraffic:0", "--cfg=network/TCP-gamma:0",
          "--log=root.thres:critical"]


def main(path: str) -> None:
    spec = json.load(open(path))
    engine = Engine(["simgrid_run"] + CONFIG)
    zone = NetZone.create_full_zone("distsim")
    nodes = sorted({node for node in spec["placement"]})
    hosts = {node: zone.create_host(f"node{node}", 1e12) for node in nodes}
    links = [zone.create_link(f"l{i}", bw).set_latency(lat).seal() for i, (bw, lat) in enumerate(spec["links"])]
    for a, b, ids in spec["routes"]:
        zone.add_route(hosts[a].netpoint, hosts[b].netpoint, None, None,
                       [LinkInRoute(links[i]) for i in ids], False)
    zone.seal()
    ranks = len(spec["placement"])
    finished = []

    def rank(me: int, program: list) -> None:
        for peer in range(ranks):  # eager sends: a put starts at once, as in distsim
            if peer != me:
                Mailbox.by_name(f"{peer}->{me}").set_receiver(Actor.self())
        pending = []
        for kind, peer, nbytes in program:
            if kind == "send":
                pending.append(Mailbox.by_name(f"{me}->{peer}").put_async(me, int(nbytes)))
            else:
                Mailbox.by_name(f"{peer}->{me}").get()
        for comm in pending:
            comm.wait()
        finished.append(Engine.clock)

    for me, program in enumerate(spec["programs"]):
        Actor.create(f"rank{me}", hosts[spec["placement"][me]], rank, me, program)
    engine.run()
    print(json.dumps({"makespan": max(finished)}))


if __name__ == "__main__":
    main(sys.argv[1])
