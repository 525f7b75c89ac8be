import glob,re,sys
def load(f):
    d={}
    for line in open(f):
        m=re.match(r'\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(\d*)\s*(\w+)$',line)
        if m: d[m.group(3)]=(int(m.group(1)),int(m.group(2) or 0))
    return d
def merge(ds):
    out={}
    for d in ds:
        for k,(c,e) in d.items():
            a=out.get(k,(0,0)); out[k]=(a[0]+c,a[1]+e)
    return out
keys=['mkdir','newfstatat','openat','close','rename','fsetxattr','rmdir','getdents64','fallocate','fadvise64','write','flock','futex','poll']
for name in sys.argv[1:]:
    srv=merge(load(f) for f in glob.glob(name+'/out.serve.*'))
    rep=max((load(f) for f in glob.glob(name+'/out.replicate.*')),key=lambda d:sum(v[0] for v in d.values()))
    r=srv['rename'][0]
    print(name,'receivers: renames',r,'syscalls per rename %.2f'%(sum(v[0] for v in srv.values())/r), ' no futex/poll %.2f'%(sum(v[0] for k,v in srv.items() if k not in('futex','poll'))/r))
    print('   ', ' '.join('%s %.2f/%.2f'%(k,srv.get(k,(0,0))[0]/r,srv.get(k,(0,0))[1]/r) for k in keys))
    print('  replicator: syscalls per copy %.2f'%(sum(v[0] for v in rep.values())/9030), ' no futex/poll %.2f'%(sum(v[0] for k,v in rep.items() if k not in('futex','poll'))/9030))
    print('   ', ' '.join('%s %d/%d'%(k,*rep.get(k,(0,0))) for k in keys))
