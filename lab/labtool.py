#!/usr/bin/env python3
"""Small parsers for lab.sh and e2e.sh (stdlib only).

  labtool.py kv            < crm_mon --output-as=xml   -> key=value lines (see below)
  labtool.py first T0 ERE  < pacemaker.log lines        -> epoch of the first match at/after T0

kv keys:
  online=node1 node2                   online nodes, in the order crm_mon lists them
  promoted=node1                       nodes where the pgsql clone is Promoted
  role.<node>=Promoted|Unpromoted|...  role of the pgsql instance on <node> (absent = not running)
  vip=<node>                           where vip-master is started
  attr.<node>.<name>=<value>           node attributes (transient and permanent)
  failcount.<node>.<rsc>=<n>           from the node history
  failed.<node>=<op_key>:<exitstatus>(<exit_reason, blanks as _>) ...  failed actions
"""
import datetime
import re
import sys
import xml.etree.ElementTree as ET


def kv(doc):
    root = ET.fromstring(doc)
    out = []
    online = [n.get("name") for n in root.iter("node")
              if n.get("online") == "true" and n.get("type") in ("member", None)]
    out.append("online=" + " ".join(online))
    roles, vip, promoted = {}, [], []
    res = root.find("resources")
    for r in (res.iter("resource") if res is not None else []):
        nodes = [n.get("name") for n in r.findall("node")]
        if r.get("id") == "pgsql":
            for n in nodes:
                roles[n] = r.get("role")
                if r.get("role") in ("Promoted", "Master"):
                    promoted.append(n)
        elif r.get("id") == "vip-master" and r.get("role") == "Started":
            vip += nodes
    out.append("promoted=" + " ".join(promoted))
    out.append("vip=" + " ".join(vip))
    out += ["role.%s=%s" % kvp for kvp in sorted(roles.items())]
    na = root.find("node_attributes")
    for n in (na.findall("node") if na is not None else []):
        for a in n.findall("attribute"):
            out.append("attr.%s.%s=%s" % (n.get("name"), a.get("name"), a.get("value")))
    nh = root.find("node_history")
    for n in (nh.findall("node") if nh is not None else []):
        for r in n.findall("resource_history"):
            if r.get("fail-count"):
                out.append("failcount.%s.%s=%s" % (n.get("name"), r.get("id"), r.get("fail-count")))
    failed = {}
    fl = root.find("failures")
    for f in (fl.findall("failure") if fl is not None else []):
        reason = (f.get("exitreason") or "").replace(" ", "_")
        failed.setdefault(f.get("node"), []).append("%s:%s%s" % (f.get("op_key"), f.get("exitstatus"),
                                                                 "(%s)" % reason if reason else ""))
    out += ["failed.%s=%s" % (k, " ".join(v)) for k, v in sorted(failed.items())]
    return out


def first(t0, ere):
    pat = re.compile(ere)
    year = datetime.date.today().year
    best = None
    for line in sys.stdin:
        if not pat.search(line):
            continue
        try:  # "Nov 25 20:21:49.123 node1 pacemaker-controld ..."
            ts = datetime.datetime.strptime("%d %s" % (year, line[:19]), "%Y %b %d %H:%M:%S.%f").timestamp()
        except ValueError:
            continue
        if ts >= t0 and (best is None or ts < best):
            best = ts
    if best is not None:
        print("%.3f" % best)


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "kv":
        print("\n".join(kv(sys.stdin.read())))
    elif len(sys.argv) == 4 and sys.argv[1] == "first":
        first(float(sys.argv[2]), sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
