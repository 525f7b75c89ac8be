"""Object sets and convergence checks shared by the cluster integration tests."""
import hashlib

ACCOUNT = 'AUTH_test'
CONTAINER = 'harness'
NUM_OBJECTS = 20


def pick_objects(rng, cluster, node, count=NUM_OBJECTS):
    """count (name, body, meta) with at least 4 where node is a primary and 4 where it is not."""
    objects, primary, handoff = [], 0, 0
    i = 0
    while len(objects) < count:
        name = 'obj-%03d-%08x' % (i, rng.getrandbits(32))
        i += 1
        is_primary = cluster.is_primary(node, ACCOUNT, CONTAINER, name)
        room = count - len(objects)
        if (is_primary and handoff < 4 and room <= 4 - handoff) or \
                (not is_primary and primary < 4 and room <= 4 - primary):
            continue  # keep room for the kind we still lack
        size = 0 if not objects else rng.choice([1, 100, 4096, rng.randrange(1, 200000)])
        objects.append((name, rng.randbytes(size), '%x' % rng.getrandbits(40)))
        primary += is_primary
        handoff += not is_primary
    return objects


def check_spread(cluster, objects, node0):
    """Problems (strings) with: every object on all its primaries with its body, ETag and
    metadata, and no copy left on any other node."""
    problems = []
    for name, body, meta in objects:
        etag = hashlib.md5(body).hexdigest()
        prims = cluster.primaries(ACCOUNT, CONTAINER, name)
        for p in prims:
            r = cluster.get_object(p.node, ACCOUNT, CONTAINER, name, device=p.device)
            if r.status != 200:
                problems.append('%s: GET on primary %s -> %d' % (name, p.node.name, r.status))
                continue
            if r.body != body or r.headers.get('Etag', '').strip('"') != etag:
                problems.append('%s: primary %s has a different body/ETag (%s vs %s)' % (
                    name, p.node.name, r.headers.get('Etag'), etag))
            if r.headers.get('X-Object-Meta-Tag') != meta:
                problems.append('%s: primary %s lost metadata: %r' % (
                    name, p.node.name, r.headers.get('X-Object-Meta-Tag')))
        primary_nodes = {p.node.name for p in prims}
        obj_hash = cluster.object_hash(ACCOUNT, CONTAINER, name)
        for node in cluster.nodes:
            held = [f for f in cluster.list_objects_on(node) if f.hash == obj_hash]
            if node.name in primary_nodes and not any(f.ext == '.data' for f in held):
                problems.append('%s: no .data on primary %s' % (name, node.name))
            if node.name not in primary_nodes and held:
                problems.append('%s: %s is a handoff but still holds %s' % (
                    name, node.name, [f.path for f in held]))
        if node0.name not in primary_nodes:
            part = cluster.partition(ACCOUNT, CONTAINER, name)
            if part in cluster.partitions_on(node0):
                problems.append('%s: handoff partition %d still on %s' % (
                    name, part, node0.name))
    return problems


def object_file_problem(path):
    """Why the file at path, named as a Swift object file, is not whole (its metadata does
    not unpickle, or a .data's size or MD5 disagrees with it); None if it is."""
    from swift.obj.diskfile import read_metadata
    try:
        with open(path, 'rb') as fp:
            meta = read_metadata(fp.fileno())
            if 'X-Timestamp' not in meta and 'name' not in meta:
                raise ValueError('no X-Timestamp')
            if path.endswith('.data'):
                body = fp.read()
                if len(body) != int(meta['Content-Length']) or \
                        hashlib.md5(body).hexdigest() != meta['ETag']:
                    raise ValueError('size/ETag mismatch (%d bytes)' % len(body))
    except Exception as e:
        return str(e) or type(e).__name__
    return None
