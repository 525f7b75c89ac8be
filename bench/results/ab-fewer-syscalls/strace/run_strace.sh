#!/bin/bash
# usage: run_strace.sh FROZEN_DIR OUTDIR   (both absolute)
# strace -c of the replicator (through a wrapper given to the bench as --replicant) and
# of each node's `replicant serve` (attached once all four listen), over one native
# initial-small pass of 4,000 objects; compare.py prints syscalls per copy.
F=$1; O=$2; mkdir -p $O/w; rm -f $O/out.*
cat > $O/w/replicant <<EOW
#!/bin/bash
case "\$1" in
  replicate) exec strace -f -c -o $O/out.replicate.\$\$ $F/replicant "\$@";;
  *) exec $F/replicant "\$@";;
esac
EOW
chmod +x $O/w/replicant; ln -sfn $F/tools $O/w/tools
cd "$(dirname "$0")/../../../.."
(timeout 900 bench/run.sh --replicant $O/w/replicant --fs-image 8G --part-power 8 --objects 4000 --scenarios initial-small --methods replicant-native/serve --repeat 1 --replicator-option native_sessions_per_device=2 --server-option replication_concurrency_per_device=2 --out $O/bench > $O/bench.log 2>&1) &
bp=$!
for i in $(seq 1 3000); do n=$(pgrep -f "^$F/replicant serve" | wc -l); [ "$n" -ge 4 ] && break; sleep 0.1; done
for x in $(pgrep -f "^$F/replicant serve"); do strace -f -c -p $x -o $O/out.serve.$x 2>/dev/null & done
wait $bp
pkill -INT -f "strace -f -c -p"; sleep 2
