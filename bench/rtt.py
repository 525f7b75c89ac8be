"""Round-trip time (--rtt-ms; docs/bench.md "Round-trip time"). This kernel has no netem,
so every server port of a bench cluster (each node's object server and replication port,
the rsync daemon's) gets a front port (Cluster(front_ports=True): the ring, the
replicators' bind_port and the rsync module names carry it) served by one
bench/delay_relay process per cluster, which forwards to the real port with a one-way
delay of RTT/2 each way and costs a new connection the handshake's 1.5 RTT. Every
inter-node connection of every method, Swift's replicator included, crosses it; the
bench's own checks (on-disk) do not.

The scenarios run once per RTT, the relay restarted with the new delay in between (the
clusters, their rings and ports stay). Scenario names carry the RTT: `initial-small@rtt5ms`.
A REPLICATE and an rsync daemon greeting timed through the relay at each RTT (notes)
show the delay is there."""
import http.client
import os
import re
import socket
import subprocess
import time

import cluster as cluster_mod
from host import log
import report

SUFFIX_RE = re.compile(r'^(.*)@rtt([\d.]+)ms$')


def suffix(rtt_ms):
    return '@rtt%gms' % rtt_ms


def split(scenario):
    """(base scenario, rtt ms) of an RTT scenario name, else (scenario, None)."""
    m = SUFFIX_RE.match(scenario)
    return (m.group(1), float(m.group(2))) if m else (scenario, None)


def plan(args, all_scenarios, info):
    """[(scenario, part power, rtt ms or None)] in run order; records the RTT set-up."""
    todo = []
    for rtt_ms in (args.rtt_ms if args.rtt_ms is not None else [None]):
        for s in all_scenarios:
            if s in args.scenarios:
                todo += [(s, pp, rtt_ms) for pp in args.idle_part_powers] if s == 'idle' \
                    else [(s, args.part_power, rtt_ms)]
    if args.rtt_ms is not None:
        info['round-trip time'] = (
            'RTT %s ms: every server port behind bench/delay_relay (one-way delay RTT/2, a '
            'new connection 1.5 RTT%s); limits not run' % (
                ', '.join('%g' % x for x in args.rtt_ms),
                ', each link direction capped at %g Mbit/s' % args.rate_mbit
                if args.rate_mbit else ''))
    return todo


class Relays:
    """One delay_relay process per running cluster of the bench, all at the same RTT."""

    def __init__(self, bench):
        self.bench = bench
        self.tool = os.path.join(os.path.dirname(os.path.abspath(bench.args.replicant)),
                                 'tools', 'delay_relay')
        if not os.access(self.tool, os.X_OK):
            raise RuntimeError('--rtt-ms needs %s (build the delay_relay target)' % self.tool)
        self.rtt_ms = None
        self.procs = {}  # id(cluster) -> (cluster, Popen)
        self.probed = set()  # RTTs whose delay was checked (a note each)

    def attach(self, c):
        if self.rtt_ms is None:
            raise RuntimeError('a cluster with front ports started before an RTT was set')
        args = [self.tool, '--delay-ms', '%g' % (self.rtt_ms / 2.0)]
        if self.bench.args.rate_mbit:
            args += ['--rate-mbit', '%g' % self.bench.args.rate_mbit]
        for front, real in c.front_map():
            args += ['--listen', '%s:%d' % (cluster_mod.LOOPBACK, front),
                     '--to', '%s:%d' % (cluster_mod.LOOPBACK, real)]
        err = os.path.join(self.bench.log_dir, 'delay_relay-%s.log' % os.path.basename(c.dir))
        with open(err, 'ab') as errf:
            p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=errf, text=True,
                                 start_new_session=True, preexec_fn=cluster_mod._set_pdeathsig)
        lines = [p.stdout.readline() for _ in c.front_map()] + [p.stdout.readline()]
        if lines[-1].strip() != 'ready':
            p.kill()
            p.wait()
            raise RuntimeError('delay_relay did not start: %s' % cluster_mod.tail(err, 5))
        self.procs[id(c)] = (c, p)
        if c.replication == 'same' and self.rtt_ms not in self.probed:
            self.probed.add(self.rtt_ms)
            check(self.bench, c)

    def detach(self, c):
        entry = self.procs.pop(id(c), None)
        if entry:
            entry[1].kill()
            entry[1].wait()

    def set_rtt(self, rtt_ms):
        """Restarts every relay with the new delay (between passes: no connection open)."""
        self.rtt_ms = rtt_ms
        for c, _ in list(self.procs.values()):
            self.detach(c)
            self.attach(c)

    def probe(self, c):
        """{'relay'|'direct': (ms of a REPLICATE to node 1, ms of an rsync daemon's
        greeting)}, each on a new connection."""
        node = c.nodes[1]
        ports = {'relay': (node.ring_replication_port, c.ring_rsync_port),
                 'direct': (node.replication_port, c.rsync_port)}
        times = {k: [] for k in ports}
        for _ in range(7):  # interleaved; the fastest of each is the least disturbed by load
            for k, (port, rport) in ports.items():
                times[k].append((time_replicate(node, port), time_greeting(rport)))
        return {k: tuple(min(x) for x in zip(*v)) for k, v in times.items()}


def time_replicate(node, port):
    t0 = time.monotonic()
    conn = http.client.HTTPConnection(cluster_mod.LOOPBACK, port, timeout=30)
    try:
        conn.request('REPLICATE', '/%s/0' % node.devices[0],
                     headers={'X-Backend-Storage-Policy-Index': '0'})
        r = conn.getresponse()
        r.read()
    finally:
        conn.close()
    return (time.monotonic() - t0) * 1000


def time_greeting(port):
    t0 = time.monotonic()
    with socket.create_connection((cluster_mod.LOOPBACK, port), timeout=30) as s:
        s.recv(64)  # "@RSYNCD: <version>\n"
    return (time.monotonic() - t0) * 1000


def enter(bench, rtt_ms):
    """Sets the relays to rtt_ms and the scenario suffix; notes a timed REPLICATE."""
    if bench.relays.rtt_ms == rtt_ms:
        return
    bench.relays.set_rtt(rtt_ms)
    bench.scenario_suffix = suffix(rtt_ms)
    log('round-trip time %g ms (relay one-way delay %g ms)' % (rtt_ms, rtt_ms / 2.0))


def check(bench, c):
    """After a cluster came up behind its relay: the delay is there (a note per RTT)."""
    p = bench.relays.probe(c)
    bench.note('RTT %g ms: a REPLICATE on a new connection took %.1f ms through the relay '
               '(%.1f ms direct; expect ~2 RTT more), an rsync daemon greeting %.1f ms (%.1f '
               'ms direct; expect ~2 RTT)' % (bench.relays.rtt_ms, p['relay'][0],
                                               p['direct'][0], p['relay'][1], p['direct'][1]))


# ----------------------------------------------------------------------------------------
# report: one table of every RTT (time and ratio to swift-rsync), a chart of time vs RTT

def by_rtt(rows):
    """{base scenario: {method: {rtt: row}}} of the RTT rows, in first-seen order."""
    out = {}
    for r in rows:
        base, rtt_ms = split(r['scenario'])
        if rtt_ms is not None and not r['method'].startswith('limit'):
            out.setdefault(base, {}).setdefault(r['method'], {})[rtt_ms] = r
    return out


def markdown(rows):
    data = by_rtt(rows)
    if not data:
        return ''
    rtts = sorted({k for methods in data.values() for per in methods.values() for k in per})
    head = ['scenario', 'method'] + ['RTT %g ms: s (vs swift-rsync)' % x for x in rtts]
    out = ['| ' + ' | '.join(head) + ' |', '|---|---|' + '---:|' * len(rtts)]
    for base, methods in data.items():
        for method, per in methods.items():
            cells = []
            for x in rtts:
                r = per.get(x)
                if r is None or not r['median_s']:
                    cells.append('–')
                    continue
                s = r.get('speed_vs_baseline')
                cells.append('%.3g%s%s' % (r['median_s'], ' (%.1f×)' % s if s else '',
                                           '' if r['converged_runs'] == r['runs']
                                           else ' not converged'))
            out.append('| %s | %s | %s |' % (base, method, ' | '.join(cells)))
    return '\n'.join(out)


def draw_chart(out_dir, rows):
    data = by_rtt(rows)
    if not data:
        return None
    plt = report.pyplot()
    if plt is None:
        return None
    fig, axes = plt.subplots(1, len(data), figsize=(4.5 * len(data), 4), squeeze=False)
    for ax, (base, methods) in zip(axes[0], data.items()):
        others = iter(['#2b7bd9', '#2ca02c', '#9467bd', '#17becf', '#7f7f7f'] * 4)
        for method, per in methods.items():
            xs = sorted(x for x in per if per[x]['median_s'])
            ys = [per[x]['median_s'] for x in xs]
            swift = method.startswith('swift')
            ax.plot(xs, ys, '-o' if swift else '-s', label=method,
                    color='#d9822b' if swift else next(others))
            if xs and per[xs[-1]].get('speed_vs_baseline') and not method.startswith('swift'):
                ax.annotate('×%.1f' % per[xs[-1]]['speed_vs_baseline'], (xs[-1], ys[-1]),
                            fontsize=7, xytext=(3, 0), textcoords='offset points')
        ax.set_yscale('log')
        ax.set_title('%s: wall s vs RTT' % base, fontsize=10)
        ax.set_xlabel('round-trip time, ms', fontsize=9)
        ax.set_ylabel('seconds (log)', fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle('time vs round-trip time (lower is better; ×N = speed vs swift-rsync)',
                 fontsize=10)
    fig.tight_layout()
    name = 'rtt_time.png'
    fig.savefig(os.path.join(out_dir, name), dpi=90)
    plt.close(fig)
    return name


def write_report(out_dir, rows):
    """rtt.md (the table, the chart) and a pointer at the end of results.md."""
    table = markdown(rows)
    if not table:
        return
    chart = draw_chart(out_dir, rows)
    md = ['# Round-trip time', '', table, '',
          'Median wall s of the replicator until converged (idle: one pass), per RTT; '
          '(N×) = swift-rsync\'s time at that RTT ÷ this one.', '']
    if chart:
        md.append('![time vs RTT](%s)' % chart)
    with open(os.path.join(out_dir, 'rtt.md'), 'w') as f:
        f.write('\n'.join(md) + '\n')
    with open(os.path.join(out_dir, 'results.md'), 'a') as f:
        f.write('\n## Round-trip time\n\n%s\n%s\n' % (
            table, '\n![time vs RTT](%s)\n' % chart if chart else ''))
