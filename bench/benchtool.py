#!/usr/bin/env python3
"""Measurement helpers for bench/run.sh (stdlib only; runs on the host and inside lab nodes).

  benchtool.py run ENV.json AGENT ACTION N SLEEP OUT.jsonl
        N direct invocations of AGENT ACTION with exactly the environment in ENV.json (the one
        pacemaker-execd gave the agent, see envcap).  Per run: wall ms (fork to reap) and the CPU
        time (user+sys) of the whole process tree, from wait4()'s rusage, which includes every
        descendant that was waited for (a shell agent waits for all its commands).
  benchtool.py straceN ENV.json AGENT ACTION N OUTDIR
        N invocations under `strace -f -qq -e trace=process`, one trace file each.
  benchtool.py count TRACE...
        per trace: successful execve (including the agent's own), processes created
        (fork/vfork/clone without CLONE_THREAD), threads, and the programs exec'd.
  benchtool.py envcap TRACE AGENT_SUBSTR OUTDIR
        from `strace -f -v -s 65536 -e trace=execve` of pacemaker-execd: the environment of the
        last "<agent> monitor" exec per interval -> OUTDIR/env-<interval>.json
  benchtool.py execdlog SINCE_EPOCH RSC LOG...
        recurring monitor wall times from execd's debug log: from "Scheduling another invocation
        of X" to "X[pid] exited with status" (execd's own "execution time" of recurring ops is stale).
        Also one-shot promote/start/demote/stop times from execd's log_finished lines.
  benchtool.py execdexecs AGENT_SUBSTR TRACE...
        issue 16: from `strace -f -e trace=process` of pacemaker-execd over a steady period, every
        "<agent> monitor" exec and the programs exec'd BELOW it (its descendants, by the clone
        tree; the agent's own exec not counted) -> per-monitor counts.
  benchtool.py mkexecs RA NODES ROLE EXECS.json [NOTE]      -> a result line (kind "execs")
  benchtool.py mkcpu RA NODES SECS TICKS BEFORE AFTER [NOTE] -> a result line (kind "cpu"): the
        CPU (user+sys) of execd's reaped children per node over SECS, from /proc/<execd>/stat
        cutime+cstime (BEFORE/AFTER: "node ticks" lines; TICKS: CLK_TCK).
  benchtool.py mkrestart RA VARIANT DIR                   -> a result line (kind "restart")
        from DIR/restart-*.env (lab.sh restart): first write after the start, who was promoted.
  benchtool.py stats            (stdin: numbers) -> n median p95 min max
  benchtool.py report RESULTS.jsonl META.json > benchmarks.md
"""
import datetime
import json
import math
import os
import re
import subprocess
import sys
import time


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    k = max(0, math.ceil(p / 100.0 * len(xs)) - 1)
    return xs[k]


def med(xs):
    xs = sorted(xs)
    if not xs:
        return None
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2.0


def summary(xs):
    return {"n": len(xs), "median": med(xs), "p95": pct(xs, 95), "min": min(xs) if xs else None,
            "max": max(xs) if xs else None}


def load_env(path):
    with open(path) as f:
        env = json.load(f)
    return {str(k): str(v) for k, v in env.items()}


def spawn(path, argv, env, quiet=True):
    """Fork and exec PATH with ARGV and ENV from /, stdin on /dev/null (stdout and
    stderr too when QUIET); return the child's pid."""
    pid = os.fork()
    if pid == 0:
        try:
            os.chdir("/")
            fd = os.open(os.devnull, os.O_RDWR)
            os.dup2(fd, 0)
            if quiet:
                os.dup2(fd, 1)
                os.dup2(fd, 2)
            os.execve(path, argv, env)
        finally:
            os._exit(127)
    return pid


def timed_run(path, argv, env, quiet=True):
    """Run a command to completion: (wall ms, rusage of its whole tree, exit code)."""
    t0 = time.perf_counter()
    _, status, ru = os.wait4(spawn(path, argv, env, quiet), 0)
    return (time.perf_counter() - t0) * 1000.0, ru, os.waitstatus_to_exitcode(status)


def one_run(env, agent, action, stdout=subprocess.DEVNULL):
    wall, ru, rc = timed_run(agent, [os.path.basename(agent), action], env, quiet=stdout == subprocess.DEVNULL)
    return {"wall_ms": round(wall, 3), "cpu_ms": round((ru.ru_utime + ru.ru_stime) * 1000.0, 3),
            "user_ms": round(ru.ru_utime * 1000.0, 3), "sys_ms": round(ru.ru_stime * 1000.0, 3), "rc": rc}


def cmd_run(envf, agent, action, n, sleep, out):
    env = load_env(envf)
    with open(out, "a") as f:
        for _ in range(int(n)):
            r = one_run(env, agent, action)
            f.write(json.dumps(r) + "\n")
            f.flush()
            time.sleep(float(sleep))


def cmd_pathcheck(envf, agent, setting, expect):
    """Issue 16: one monitor with HA_debug=1 (PGSQL_RA_CIB_READ=setting unless "default");
    prints the agent's line on how it read the cluster state and fails unless it says
    `expect`: the IPC path, the libcib path and crm_mon each run, not just a fallback."""
    env = load_env(envf)
    env["HA_debug"] = "1"
    if setting != "default":
        env["PGSQL_RA_CIB_READ"] = setting
    r = subprocess.run([agent, "monitor"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=60)
    lines = [l for l in r.stderr.decode(errors="replace").splitlines() if "cluster state read" in l]
    print("%s: rc %d: %s" % (setting, r.returncode, " | ".join(lines) or "no line on the cluster state read"))
    sys.exit(0 if any(expect in l for l in lines) else 1)


def cmd_straceN(envf, agent, action, n, outdir):
    env = load_env(envf)
    outdir = os.path.abspath(outdir)
    os.makedirs(outdir, exist_ok=True)
    for i in range(int(n)):
        tr = os.path.join(outdir, "trace.%d" % i)
        # strace itself is not traced: -o file, and the agent is its child
        pid = spawn("/usr/bin/strace", ["strace", "-f", "-qq", "-s", "256", "-e", "trace=process", "-o", tr,
                                         agent, action], env)
        os.waitpid(pid, 0)
        time.sleep(0.5)


CLONE_RE = re.compile(r'^(\d+)\s+(?:<\.\.\. )?(clone3?|fork|vfork)\b(.*?)= (-?\d+)')
EXEC_RE = re.compile(r'^(\d+)\s+execve\("([^"]*)"')


def count_trace(path):
    execs, procs, threads, progs, failed = 0, 0, 0, {}, 0
    pending = {}
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        m = EXEC_RE.match(line)
        if m:
            pid, prog = m.group(1), m.group(2)
            if line.endswith("<unfinished ...>"):
                pending[pid] = prog
                continue
            if re.search(r"= 0$", line):
                execs += 1
                progs[os.path.basename(prog)] = progs.get(os.path.basename(prog), 0) + 1
            else:
                failed += 1
            continue
        m = re.match(r'^(\d+)\s+<\.\.\. execve resumed>.*= (-?\d+)', line)
        if m:
            prog = pending.pop(m.group(1), "?")
            if m.group(2) == "0":
                execs += 1
                progs[os.path.basename(prog)] = progs.get(os.path.basename(prog), 0) + 1
            else:
                failed += 1
            continue
        if line.rstrip().endswith("<unfinished ...>"):
            continue
        m = CLONE_RE.match(line)
        if m and int(m.group(4)) > 0:
            if "CLONE_THREAD" in line:
                threads += 1
            else:
                procs += 1
    return {"execve": execs, "execve_failed": failed, "processes": procs, "threads": threads, "programs": progs}


def cmd_count(paths):
    rows = [count_trace(p) for p in paths]
    out = {"runs": len(rows)}
    for k in ("execve", "execve_failed", "processes", "threads"):
        xs = [r[k] for r in rows]
        out[k] = {"median": med(xs), "min": min(xs) if xs else None, "max": max(xs) if xs else None}
    # programs of the median run (by execve)
    if rows:
        srt = sorted(rows, key=lambda r: r["execve"])
        out["programs_of_median_run"] = dict(sorted(srt[len(srt) // 2]["programs"].items(), key=lambda kv: -kv[1]))
    print(json.dumps(out))


def c_unescape(s):
    return bytes(s, "utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8", "replace")


STR_RE = re.compile(r'"((?:[^"\\]|\\.)*)"')


def cmd_envcap(trace, substr, outdir):
    found = {}
    for line in open(trace, errors="replace"):
        if "execve(" not in line or substr not in line:
            continue
        m = re.search(r'execve\("([^"]*)", \[(.*?)\], \[(.*)\]', line)
        if not m or substr not in m.group(1):
            continue
        argv = [c_unescape(x) for x in STR_RE.findall(m.group(2))]
        if "monitor" not in argv:
            continue
        env = {}
        for item in STR_RE.findall(m.group(3)):
            item = c_unescape(item)
            if "=" in item:
                k, v = item.split("=", 1)
                env[k] = v
        iv = env.get("OCF_RESKEY_CRM_meta_interval", "0")
        found[iv] = {"agent": m.group(1), "env": env}
    os.makedirs(outdir, exist_ok=True)
    for iv, d in found.items():
        with open(os.path.join(outdir, "env-%s.json" % iv), "w") as f:
            json.dump(d["env"], f, indent=1, sort_keys=True)
        with open(os.path.join(outdir, "agent-%s.txt" % iv), "w") as f:
            f.write(d["agent"] + "\n")
    print(" ".join(sorted(found)))


LOG_TS = re.compile(r'^(\w{3} \d{1,2} \d\d:\d\d:\d\d\.\d+)')


def log_epoch(line, year):
    m = LOG_TS.match(line)
    if not m:
        return None
    try:
        return datetime.datetime.strptime("%d %s" % (year, m.group(1)), "%Y %b %d %H:%M:%S.%f").timestamp()
    except ValueError:
        return None


def cmd_execdlog(since, rsc, *paths):
    since = float(since)
    year = datetime.date.today().year
    start, times, oneshot = {}, {}, {}
    sched = re.compile(r"Scheduling another invocation of (%s_monitor_\d+)" % re.escape(rsc))
    done = re.compile(r"(%s_monitor_\d+)\[\d+\] exited with status (\d+)" % re.escape(rsc))
    # execd log_finished: "pgsql promote (call 45, PID 2345) exited with status 0 (execution time 1.234s)"
    fin = re.compile(r"pacemaker-execd.*\b%s (promote|demote|start|stop) \(call \d+, PID \d+\).*execution time ([\d.]+)(ms|s)"
                     % re.escape(rsc))
    lines = []
    for path in paths:
        lines += open(path, errors="replace").readlines()
    for line in lines:
        if "pacemaker-execd" not in line:
            continue
        ts = log_epoch(line, year)
        if ts is None or ts < since:
            continue
        m = sched.search(line)
        if m:
            start[m.group(1)] = ts
            continue
        m = done.search(line)
        if m and m.group(1) in start:
            key = "%s rc=%s" % (m.group(1), m.group(2))
            times.setdefault(key, []).append(round((ts - start.pop(m.group(1))) * 1000.0, 1))
            continue
        m = fin.search(line)
        if m:
            v = float(m.group(2)) * (1.0 if m.group(3) == "ms" else 1000.0)
            oneshot.setdefault(m.group(1), []).append(v)
    print(json.dumps({"monitor": {k: summary(v) for k, v in times.items()},
                      "oneshot": {k: summary(v) for k, v in oneshot.items()}}))


def cmd_mkmon(ra, nodes, role, runf, countf, execdf, opprefix, note=""):
    runs = [json.loads(l) for l in open(runf) if l.strip()] if os.path.exists(runf) else []
    rec = {"kind": "monitor", "ra": ra, "nodes": int(nodes), "role": role, "samples": len(runs)}
    rcs = {}
    for r in runs:
        rcs[str(r["rc"])] = rcs.get(str(r["rc"]), 0) + 1
    rec["rcs"] = rcs
    if runs:
        rec["wall"] = summary([r["wall_ms"] for r in runs])
        rec["cpu"] = summary([r["cpu_ms"] for r in runs])
    if os.path.exists(countf) and os.path.getsize(countf):
        c = json.load(open(countf))
        if c.get("runs"):
            rec["execve"] = c["execve"]
            rec["processes"] = c["processes"]
            rec["threads"] = c["threads"]
            rec["programs"] = c.get("programs_of_median_run")
    if os.path.exists(execdf) and os.path.getsize(execdf):
        e = json.load(open(execdf))
        # execd-log samples: merge every exit status of this op, but say which
        xs_keys = [k for k in e.get("monitor", {}) if k.split(" ")[0] == opprefix]
        if xs_keys:
            best = max(xs_keys, key=lambda k: e["monitor"][k]["n"])
            rec["execd"] = e["monitor"][best]
            rec["execd_key"] = best
    for fname, key in (("children.jsonl", "children"), ("alts.jsonl", "alternatives")):
        chf = os.path.join(os.path.dirname(runf), fname)
        if not os.path.exists(chf):
            continue
        by = {}
        for l in open(chf):
            if l.strip():
                d = json.loads(l)
                by.setdefault(" ".join(os.path.basename(d["argv"][0]).split() + d["argv"][1:])[:80], []).append(d["wall_ms"])
        rec[key] = {k: summary(v) for k, v in by.items()}
    # issue 16: the same monitors with the cluster state read another way (PGSQL_RA_CIB_READ)
    paths = {}
    for path in ("libcib", "crm_mon"):
        pf = os.path.join(os.path.dirname(runf), "run-%s.jsonl" % path)
        rs = [json.loads(l) for l in open(pf) if l.strip()] if os.path.exists(pf) else []
        if rs:
            paths[path] = {"wall": summary([r["wall_ms"] for r in rs]), "cpu": summary([r["cpu_ms"] for r in rs])}
    if paths:
        rec["cib_paths"] = paths
    if note:
        rec["note"] = note
    print(json.dumps(rec))


def cmd_mkfail(ra, rdir, execdf, note=""):
    import glob
    phases = {}
    rounds = sorted(glob.glob(os.path.join(rdir, "round-*.env")))
    ok = 0
    for f in rounds:
        kv = dict(l.strip().split("=", 1) for l in open(f) if "=" in l)
        good = kv.get("WRITE", "NA") != "NA" and kv.get("NEW") and kv.get("NEW") != kv.get("OLD")
        if good:
            ok += 1
        for k in ("DETECT", "PROMOTED", "VIP", "WRITE"):
            v = kv.get(k, "NA")
            if good and v not in ("NA", ""):
                phases.setdefault(k, []).append(float(v))
    ph = {k: summary(v) for k, v in phases.items()}
    if os.path.exists(execdf) and os.path.getsize(execdf):
        e = json.load(open(execdf))
        p = e.get("oneshot", {}).get("promote")
        if p:
            ph["PROMOTE_OP"] = {k: (v / 1000.0 if isinstance(v, (int, float)) and k != "n" else v)
                                for k, v in p.items()}
    rec = {"kind": "failover", "ra": ra, "rounds": len(rounds), "ok": ok, "phases": ph}
    if note:
        rec["note"] = note
    print(json.dumps(rec))


def cmd_execdexecs(agent_substr, *traces):
    """issue 16: programs exec'd below each "<agent> monitor" in execd process traces"""
    per, progs = [], {}
    for path in traces:
        parent, roots, execs = {}, {}, []
        pending = {}
        for line in open(path, errors="replace"):
            line = line.rstrip("\n")
            m = re.match(r'^(\d+)\s+(?:<\.\.\. )?(clone3?|fork|vfork)\b.*= (\d+)$', line)
            if m and not line.endswith("<unfinished ...>"):
                if "CLONE_THREAD" not in line:
                    parent[m.group(3)] = m.group(1)
                continue
            m = re.match(r'^(\d+)\s+(?:<\.\.\. )?(clone3?|fork|vfork) resumed>.*= (\d+)$', line)
            if m:
                parent[m.group(3)] = m.group(1)
                continue
            m = EXEC_RE.match(line)
            if m:
                pid, prog = m.group(1), m.group(2)
                if line.endswith("<unfinished ...>"):
                    pending[pid] = (prog, line)
                    continue
                if re.search(r"= 0$", line):
                    execs.append((pid, prog, line))
                continue
            m = re.match(r'^(\d+)\s+<\.\.\. execve resumed>.*= 0$', line)
            if m and m.group(1) in pending:
                prog, first = pending.pop(m.group(1))
                execs.append((m.group(1), prog, first))
        for pid, prog, line in execs:
            if agent_substr in prog and '"monitor"' in line:
                roots[pid] = 0
        for pid, prog, _ in execs:
            if pid in roots:
                continue
            p, hops = parent.get(pid), 0
            while p is not None and p not in roots and hops < 64:
                p, hops = parent.get(p), hops + 1
            if p in roots:
                roots[p] += 1
                progs[os.path.basename(prog)] = progs.get(os.path.basename(prog), 0) + 1
        per.extend(roots.values())
    print(json.dumps({"monitors": len(per), "execs_per_monitor": summary(per), "programs": progs}))


def cmd_mkexecs(ra, nodes, role, execsf, note=""):
    rec = {"kind": "execs", "ra": ra, "nodes": int(nodes), "role": role}
    if os.path.exists(execsf) and os.path.getsize(execsf):
        rec.update(json.load(open(execsf)))
    if note:
        rec["note"] = note
    print(json.dumps(rec))


def cmd_mkcpu(ra, nodes, secs, ticks, before, after, note=""):
    def read(path):
        out = {}
        for l in open(path):
            parts = l.split()
            if len(parts) == 2:
                out[parts[0]] = int(parts[1])
        return out
    b, a = read(before), read(after)
    pct = {n: 100.0 * (a[n] - b[n]) / float(ticks) / float(secs) for n in a if n in b and a[n] >= b[n]}
    rec = {"kind": "cpu", "ra": ra, "nodes": int(nodes), "secs": float(secs), "pct_per_node": pct,
           "max_pct": max(pct.values()) if pct else None}
    if note:
        rec["note"] = note
    print(json.dumps(rec))


def cmd_mkrestart(ra, variant, rdir):
    import glob
    rounds = sorted(glob.glob(os.path.join(rdir, "restart-*.env")))
    writes, promoted, stale_promoted, locked_out, early = [], {}, 0, 0, 0
    starts, decides = [], []
    for f in rounds:
        kv = dict(l.strip().split("=", 1) for l in open(f) if "=" in l)
        # lab.sh restart's timeline (issue 16): Pacemaker asks for the first start of
        # pgsql at START, for the promote at PROMOTE_ASKED (s after the stacks' start)
        try:
            st = float(kv.get("START", "NA"))
            starts.append(st)
            decides.append(float(kv.get("PROMOTE_ASKED", "NA")) - st)
        except ValueError:
            pass
        if kv.get("EARLY", "0") not in ("0", ""):
            early += 1
        if kv.get("LOCKED_OUT"):
            locked_out += 1
        new = kv.get("NEW", "")
        promoted[new or "none"] = promoted.get(new or "none", 0) + 1
        if kv.get("STALE") and new == kv.get("STALE"):
            stale_promoted += 1
        if kv.get("WRITE", "NA") not in ("NA", ""):
            writes.append(float(kv["WRITE"]))
    print(json.dumps({"kind": "restart", "ra": ra, "variant": variant, "rounds": len(rounds),
                      "ok": len(writes), "write": summary(writes), "promoted": promoted,
                      "stale_promoted": stale_promoted, "locked_out": locked_out,
                      "decided_early": early, "start": summary(starts),
                      "start_to_promote": summary(decides)}))


def cmd_children(trace, agent_substr="/resource.d/"):
    """argv of every distinct program the agent exec'd (from an strace -f -e trace=process file)"""
    seen, out, pending = set(), [], {}
    for line in open(trace, errors="replace"):
        line = line.rstrip()
        m = re.match(r'^(\d+)\s+execve\("([^"]*)", \[(.*?)\]', line)
        if m:
            cand = (m.group(2), [c_unescape(x) for x in STR_RE.findall(m.group(3))])
            if line.endswith("<unfinished ...>"):
                pending[m.group(1)] = cand
                continue
            if not re.search(r"= 0$", line):
                continue
        else:
            m2 = re.match(r'^(\d+)\s+<\.\.\. execve resumed>.*= 0$', line)
            if not m2 or m2.group(1) not in pending:
                continue
            cand = pending.pop(m2.group(1))
        path, argv = cand
        if agent_substr in path:
            continue
        key = json.dumps([path] + argv[1:])
        if key not in seen:
            seen.add(key)
            out.append([path] + argv[1:])
    print(json.dumps(out))


def cmd_runargv(envf, n, sleep, out, argvjson):
    """time N runs of one child command (argv[0] = absolute path) with the agent's environment"""
    env = load_env(envf)
    argv = json.loads(argvjson)
    with open(out, "a") as f:
        for _ in range(int(n)):
            wall, ru, rc = timed_run(argv[0], [os.path.basename(argv[0])] + argv[1:], env)
            f.write(json.dumps({"argv": argv, "wall_ms": round(wall, 3),
                                "cpu_ms": round((ru.ru_utime + ru.ru_stime) * 1000.0, 3),
                                "rc": rc}) + "\n")
            time.sleep(float(sleep))


def cmd_stats():
    xs = [float(x) for x in sys.stdin.read().split()]
    print(json.dumps(summary(xs)))


# ------------------------------------------------------------------ report

def fmt(v, nd=0):
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    return ("%%.%df" % nd) % v


def ratio(a, b, nd=2):
    if a is None or b in (None, 0):
        return "—"
    return ("%%.%df" % nd) % (a / b) if a / b >= 0.01 else "%.3f" % (a / b)


def cmd_report(results, metaf):
    recs = [json.loads(l) for l in open(results) if l.strip()]
    meta = json.load(open(metaf))
    agents = ["ours", "stock", "paf"]
    names = {"ours": "ours (pgsql-ra)", "stock": "stock ocf:heartbeat:pgsql", "paf": "PAF ocf:heartbeat:pgsqlms"}
    out = []
    p = out.append
    p("# Benchmarks: pgsql-ra vs the stock agent (and PAF), side by side")
    p("")
    p("Generated by `bench/run.sh%s` on %s. Raw data: `bench/out/%s/` (not committed)."
      % (" --quick" if meta.get("quick") else "", meta.get("date"), meta.get("run_id")))
    p("")
    p("| machine | versions |")
    p("|---|---|")
    p("| %s | %s |" % (meta.get("machine"), meta.get("versions")))
    p("")
    p("Load while measuring: %s. The machine has 2 vCPUs shared with other work; every lab node, "
      "its Pacemaker and PostgreSQL run on them." % meta.get("load", "?"))
    p("")
    for f in meta.get("failures", []):
        p("* **failed:** %s" % f)
    if meta.get("failures"):
        p("")

    def get(kind, **kw):
        for r in recs:
            if r.get("kind") == kind and all(r.get(k) == v for k, v in kw.items()):
                return r
        return None

    for nodes in sorted({r.get("nodes") for r in recs if r.get("kind") == "monitor"}):
        p("## Monitor cost, %d-node cluster (steady state, direct invocations with the execd environment)" % nodes)
        p("")
        p("| metric | role | " + " | ".join(names[a] for a in agents) + " | ours/stock |")
        p("|---|---|" + "---|" * len(agents) + "---|")
        for role in ("primary", "standby"):
            rows = [("wall ms, median", "wall", "median", 1), ("wall ms, p95", "wall", "p95", 1),
                    ("CPU ms (user+sys, tree), median", "cpu", "median", 1),
                    ("execd-log wall ms, median", "execd", "median", 0),
                    ("execd-log wall ms, p95", "execd", "p95", 0),
                    ("programs exec'd (execve incl. the agent)", "execve", "median", 0),
                    ("processes created (fork/clone)", "processes", "median", 0)]
            for label, key, stat, nd in rows:
                vals = {}
                for a in agents:
                    r = get("monitor", ra=a, nodes=nodes, role=role)
                    v = None
                    if r and r.get(key):
                        v = r[key].get(stat)
                    vals[a] = v
                if all(v is None for v in vals.values()):
                    continue
                p("| %s | %s | %s | %s |" % (label, role, " | ".join(fmt(vals[a], nd) for a in agents),
                                           ratio(vals["ours"], vals["stock"])))
        p("")
        for a in agents:
            for role in ("primary", "standby"):
                r = get("monitor", ra=a, nodes=nodes, role=role)
                if r and r.get("note"):
                    p("* %s %s: %s" % (a, role, r["note"]))
                if r and r.get("programs"):
                    p("* %s %s, programs of one monitor: %s" % (
                        a, role, ", ".join("%s %d" % kv for kv in r["programs"].items())))
                for k, v in ((r or {}).get("children") or {}).items():
                    p("* %s %s: the child `%s` alone (same env, %d runs): median %.1f ms, p95 %.1f ms"
                      % (a, role, k, v["n"], v["median"], v["p95"]))
                for k, v in ((r or {}).get("alternatives") or {}).items():
                    p("* %s %s, for comparison: `%s` (same env, %d runs): median %.1f ms, p95 %.1f ms"
                      % (a, role, k, v["n"], v["median"], v["p95"]))
                if r and r.get("samples"):
                    p("* %s %s: %d direct monitors, rc %s" % (a, role, r["samples"], r.get("rcs")))
                for k, v in ((r or {}).get("cib_paths") or {}).items():
                    p("* %s %s, the same monitors reading the cluster state %s (`PGSQL_RA_CIB_READ=%s`, %d runs): "
                      "wall median %.1f ms (p95 %.1f), CPU median %.1f ms"
                      % (a, role, "through libcib" if k == "libcib" else "with crm_mon", k,
                         v["wall"]["n"], v["wall"]["median"], v["wall"]["p95"], v["cpu"]["median"]))
        p("")

    fo = [r for r in recs if r.get("kind") == "failover"]
    if fo:
        p("## Failover: kill -9 of the primary's postmaster (monitors 3 s Promoted / 4 s Unpromoted)")
        p("")
        p("Seconds since the kill; median (min-max) over the successful rounds. "
          "`promote op` is the promote action's own duration from execd's log.")
        p("")
        p("| agent | rounds ok/run | detected | promoted | VIP started | **first write** | promote op (s) |")
        p("|---|---|---|---|---|---|---|")
        for a in agents:
            r = get("failover", ra=a)
            if not r:
                p("| %s | not run | | | | | |" % names[a])
                continue
            cells = []
            for k in ("DETECT", "PROMOTED", "VIP", "WRITE", "PROMOTE_OP"):
                s = r.get("phases", {}).get(k)
                cells.append("%.2f (%.2f-%.2f)" % (s["median"], s["min"], s["max"]) if s and s.get("n") else "—")
            cells[3] = "**%s**" % cells[3]
            p("| %s | %d/%d | %s |" % (names[a], r.get("ok", 0), r.get("rounds", 0), " | ".join(cells)))
            if r.get("note"):
                p("")
                p("* %s: %s" % (a, r["note"]))
        s_o = (get("failover", ra="ours") or {}).get("phases", {}).get("WRITE")
        s_s = (get("failover", ra="stock") or {}).get("phases", {}).get("WRITE")
        if s_o and s_s and s_o.get("n") and s_s.get("n"):
            p("")
            p("first write, ours/stock (medians): %s" % ratio(s_o["median"], s_s["median"]))
        p("")

    # issue 16 (performance step 2)
    ex = [r for r in recs if r.get("kind") == "execs"]
    cpu = [r for r in recs if r.get("kind") == "cpu"]
    rs = [r for r in recs if r.get("kind") == "restart"]
    ff = [r for r in recs if r.get("kind") == "failover_fast"]
    if ex or cpu or rs or ff:
        p("## Step 2 (issue 16): programs below a steady-state monitor, idle CPU, restarts, 1 s failover")
        p("")
    if ex:
        p("Programs exec'd below the agent per steady-state recurring monitor (`strace -f` of pacemaker-execd; "
          "the agent's own exec not counted):")
        p("")
        p("| agent | nodes | role | monitors seen | execs per monitor (median, min-max) | programs |")
        p("|---|---|---|---|---|---|")
        for r in ex:
            e = r.get("execs_per_monitor") or {}
            p("| %s | %d | %s | %s | %s | %s |" % (names.get(r["ra"], r["ra"]), r.get("nodes", 0), r.get("role"),
                                                r.get("monitors", 0),
                                                "%s (%s-%s)" % (e.get("median"), e.get("min"), e.get("max")) if e.get("n") else "—",
                                                ", ".join("%s %d" % kv for kv in sorted((r.get("programs") or {}).items(), key=lambda kv: -kv[1])) or "none"))
        p("")
    if cpu:
        p("CPU over an idle period (user+sys of pacemaker-execd's reaped children per node, i.e. the agent's "
          "monitors and the VIP's IPaddr2 monitor, divided by wall time; % of one core):")
        p("")
        p("| agent | nodes | seconds | per node | max |")
        p("|---|---|---|---|---|")
        for r in cpu:
            p("| %s | %d | %.0f | %s | **%s** |" % (names.get(r["ra"], r["ra"]), r.get("nodes", 0), r.get("secs", 0),
                                               ", ".join("%s %.2f %%" % kv for kv in sorted(r.get("pct_per_node", {}).items())),
                                               "%.2f %%" % r["max_pct"] if r.get("max_pct") is not None else "—"))
        p("")
    if rs:
        p("Restarts of the whole cluster (`lab.sh restart`): from starting every node to the first acknowledged "
          "write through the VIP (s); the stale node (stopped earlier, writes went on) must never be promoted:")
        p("")
        p("| agent | variant | ok/rounds | first write s (median, min-max) | Pacemaker asks the first start, s | start asked → promote asked, s | promoted | stale promoted | decided early (ours) |")
        p("|---|---|---|---|---|---|---|---|---|")
        medf = lambda x: "%.2f" % x["median"] if (x or {}).get("n") else "—"
        for r in rs:
            w = r.get("write") or {}
            p("| %s | %s | %d/%d | %s | %s | %s | %s | %d | %s |" % (names.get(r["ra"], r["ra"]), r.get("variant"), r.get("ok", 0),
                                                   r.get("rounds", 0),
                                                   "**%.2f** (%.2f-%.2f)" % (w["median"], w["min"], w["max"]) if w.get("n") else "—",
                                                   medf(r.get("start")), medf(r.get("start_to_promote")),
                                                   ", ".join("%s %d" % kv for kv in sorted(r.get("promoted", {}).items())),
                                                   r.get("stale_promoted", 0),
                                                   "%d/%d" % (r.get("decided_early", 0), r.get("rounds", 0)) if r["ra"] == "ours" else "—"))
        p("")
    if ff:
        p("Failover with a 1 s Promoted monitor interval (kill -9 -> first write through the VIP, s):")
        p("")
        p("| agent | ok/rounds | detected | promoted | VIP | first write |")
        p("|---|---|---|---|---|---|")
        for r in ff:
            cells = []
            for k in ("DETECT", "PROMOTED", "VIP", "WRITE"):
                s_ = r.get("phases", {}).get(k)
                cells.append("%.2f (%.2f-%.2f)" % (s_["median"], s_["min"], s_["max"]) if s_ and s_.get("n") else "—")
            cells[3] = "**%s**" % cells[3]
            p("| %s | %d/%d | %s |" % (names.get(r["ra"], r["ra"]), r.get("ok", 0), r.get("rounds", 0), " | ".join(cells)))
        p("")
    sc = get("scaling")
    if sc:
        p("## Scaling in N (in-memory harness, one steady-state monitor, calls to the Cluster port)")
        p("")
        if sc.get("unimplemented"):
            p("The core's monitor was not implemented when this ran (rc 3 for every N): nothing to count.")
        else:
            p("| N | role | rc | cluster-view reads | attribute reads | attribute writes | SQL calls |")
            p("|---|---|---|---|---|---|---|")
            for row in sc.get("rows", []):
                p("| %d | %s | %d | %d | %d | %d | %d |" % (row["n"], row["role"], row["rc"], row["view_reads"],
                                                          row["attr_reads"], row["attr_writes"], row["sql"]))
            p("")
            p("cluster-view reads flat in N: **%s**" % ("yes" if sc.get("view_reads_flat") else "NO"))
        p("")
    for r in recs:
        if r.get("kind") == "note":
            p("* %s" % r["text"])
    print("\n".join(out))


def main():
    a = sys.argv[1:]
    if not a:
        print(__doc__)
        sys.exit(2)
    c = a[0]
    if c == "run":
        cmd_run(*a[1:7])
    elif c == "pathcheck":
        cmd_pathcheck(*a[1:5])
    elif c == "straceN":
        cmd_straceN(*a[1:6])
    elif c == "count":
        cmd_count(a[1:])
    elif c == "envcap":
        cmd_envcap(*a[1:4])
    elif c == "execdlog":
        cmd_execdlog(*a[1:])
    elif c == "mkmon":
        cmd_mkmon(*a[1:10])
    elif c == "mkfail":
        cmd_mkfail(*a[1:5])
    elif c == "children":
        cmd_children(*a[1:3])
    elif c == "runargv":
        cmd_runargv(*a[1:6])
    elif c == "execdexecs":
        cmd_execdexecs(*a[1:])
    elif c == "mkexecs":
        cmd_mkexecs(*a[1:6])
    elif c == "mkcpu":
        cmd_mkcpu(*a[1:8])
    elif c == "mkrestart":
        cmd_mkrestart(*a[1:4])
    elif c == "stats":
        cmd_stats()
    elif c == "report":
        cmd_report(a[1], a[2])
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
