#!/usr/bin/env python3
"""Renders this chart's templates without helm (not installable on our machines), for the few
template constructs the chart uses, so the output can be schema-checked offline:

    python3 charts/shopkeeper-operator/ci/render.py > /tmp/chart.yaml
    kubernetes-validate -k 1.37.0 --strict /tmp/chart.yaml
    python3 charts/shopkeeper-operator/ci/render.py shop team-b   # watchNamespaces: [shop, team-b]

It fails loudly on any construct it does not know, so a new template feature is never skipped
silently. Release name `shopkeeper`, namespace `shopkeeper-system`, the default values.
"""
import pathlib
import re
import sys

import yaml

CHART = pathlib.Path(__file__).resolve().parent.parent
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
CHART_META = yaml.safe_load((CHART / "Chart.yaml").read_text())
RELEASE = {"Name": "shopkeeper", "Namespace": "shopkeeper-system", "Service": "Helm"}


def lookup(path):
    node = {"Values": VALUES, "Release": RELEASE, "Chart": {"AppVersion": CHART_META["appVersion"],
            "Name": CHART_META["name"], "Version": CHART_META["version"]}}
    for part in path.strip(".").split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def defines():
    text = (CHART / "templates" / "_helpers.tpl").read_text()
    return {m.group(1): m.group(2).strip("\n")
            for m in re.finditer(r'{{- define "([^"]+)" -}}(.*?){{- end -}}', text, re.S)}


HELPERS = defines()


def expr(body):
    parts = [p.strip() for p in body.split("|")]
    head, pipes = parts[0], parts[1:]
    if m := re.fullmatch(r'include "([^"]+)" \.', head):
        value = render_text(HELPERS[m.group(1)])
    elif m := re.fullmatch(r"toYaml (\.[\w.]+)", head):
        value = yaml.safe_dump(lookup(m.group(1)), default_flow_style=False).rstrip("\n")
    elif re.fullmatch(r"\.[\w.]+", head):
        value = lookup(head)
    else:
        sys.exit(f"unknown template expression: {body}")
    for pipe in pipes:
        if m := re.fullmatch(r'join "([^"]*)"', pipe):
            value = m.group(1).join(str(v) for v in (value or []))
        elif m := re.fullmatch(r"default (\.[\w.]+)", pipe):
            value = value or lookup(m.group(1))
        elif pipe == "quote":
            value = '"%s"' % value
        elif m := re.fullmatch(r"nindent (\d+)", pipe):
            pad = " " * int(m.group(1))
            value = "\n" + "\n".join(pad + line if line else line for line in str(value).split("\n"))
        else:
            sys.exit(f"unknown pipe: {pipe}")
    return "" if value is None else str(value)


def render_text(text):
    # Blocks first: {{- if [not] X }} / {{- with X }} / {{- range X }} … {{- end }} (not nested
    # in this chart). In a range, `.` is the item and `$` the root.
    def block(m):
        kind, cond, inner = m.group(1), m.group(2), m.group(3)
        value = lookup(cond)
        if kind == "if not":
            return "" if value else inner
        if not value:
            return ""
        if kind == "with":
            inner = inner.replace("toYaml .", "toYaml " + cond)
        if kind == "range":
            out = []
            for item in value:
                one = inner.replace("{{ . }}", str(item)).replace("$.", ".")
                out.append(re.sub(r"(\s)\$(\s)", r"\1.\2", one))
            return "".join(out)
        return inner
    text = re.sub(r"\s*{{- (if not|if|with|range) (\.[\w.]+) }}(.*?){{- end }}", block, text, flags=re.S)
    def one(m):
        trim = m.group(1) == "-"
        return ("\x00" if trim else "") + expr(m.group(2))
    text = re.sub(r"{{(-?) (.*?) -?}}", one, text)
    # `{{-` trims the whitespace before it.
    return re.sub(r"[ \t]*\n?[ \t]*\x00", "", text)


def main():
    # `render.py ns1 ns2`: render with watchNamespaces set (the namespaced mode).
    if len(sys.argv) > 1:
        VALUES["watchNamespaces"] = sys.argv[1:]
    docs = []
    for path in sorted((CHART / "templates").glob("*.yaml")):
        rendered = render_text(path.read_text())
        for doc in yaml.safe_load_all(rendered):
            if doc:
                docs.append(doc)
    print(yaml.safe_dump_all(docs, sort_keys=False), end="")


if __name__ == "__main__":
    main()
