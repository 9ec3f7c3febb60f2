#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write mflow/_uapi.py from include/uapi/linux/mflow.h.

    gen_uapi.py HEADER OUTPUT [CC]

Every MFLOW_* object-like macro of the header (as the C preprocessor sees
it) and every struct mflow_* it defines go into the module: the values,
the sizes and the field offsets are printed by a C program compiled
against the header, so no number is copied by hand and a change in the
header changes the module at the next build. Each struct mflow_x becomes
STRUCT_MFLOW_X, a struct.Struct with explicit padding ("x"), and
STRUCT_MFLOW_X_FIELDS, its field names; a field that is not __u32, __u64
or a char array stops the build.
"""
import os
import re
import struct
import subprocess
import sys
import tempfile

FIELD = re.compile(r'^\s*(__u32|__u64|char)\s+(\w+)\s*(?:\[(\w+)\])?\s*;')
STRUCT = re.compile(r'^struct\s+(mflow_\w+)\s*\{(.*?)^\};', re.M | re.S)


def macros(header, cc):
    """MFLOW_* object-like macros, in the order the header defines them."""
    inc = os.path.dirname(os.path.dirname(os.path.abspath(header)))
    out = subprocess.run([cc, '-E', '-dM', '-isystem', inc,
                          '-include', header, '-x', 'c', '/dev/null'],
                         check=True, capture_output=True, text=True).stdout
    known = set()
    for line in out.splitlines():
        m = re.match(r'#define (MFLOW_\w+)(\(?)', line)
        if m and not m.group(2):
            known.add(m.group(1))
    order = re.findall(r'^#define\s+(MFLOW_\w+)\b(?!\()', open(header).read(),
                       re.M)
    return [n for n in dict.fromkeys(order) if n in known]


def structs(header):
    """{name: [(field, type, array length macro or None)]}."""
    text = re.sub(r'/\*.*?\*/', '', open(header).read(), flags=re.S)
    found = {}
    for name, body in STRUCT.findall(text):
        fields = []
        for line in body.splitlines():
            if not line.strip():
                continue
            m = FIELD.match(line)
            if not m:
                sys.exit(f'gen_uapi: struct {name}: cannot map "{line.strip()}"')
            typ, name_, length = m.groups()
            fields.append((name_, typ, length))
        found[name] = fields
    return found


def c_program(header, names, types):
    lines = ['#include <stdio.h>', '#include <stddef.h>',
             f'#include "{os.path.abspath(header)}"', 'int main(void)', '{']
    for n in names:
        lines.append(f'\tprintf("M {n} %llu\\n", (unsigned long long)({n}));')
    for s, fields in types.items():
        lines.append(f'\tprintf("S {s} %zu\\n", sizeof(struct {s}));')
        for f, _, _ in fields:
            lines.append(f'\tprintf("F {s} {f} %zu %zu\\n", '
                         f'offsetof(struct {s}, {f}), '
                         f'sizeof(((struct {s} *)0)->{f}));')
    lines += ['\treturn 0;', '}']
    return '\n'.join(lines) + '\n'


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit('usage: gen_uapi.py HEADER OUTPUT [CC]')
    header, output = sys.argv[1], sys.argv[2]
    cc = sys.argv[3] if len(sys.argv) == 4 else 'cc'
    names = macros(header, cc)
    types = structs(header)
    inc = os.path.dirname(os.path.dirname(os.path.abspath(header)))
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, 'uapi.c')
        exe = os.path.join(tmp, 'uapi')
        with open(src, 'w') as f:
            f.write(c_program(header, names, types))
        subprocess.run([cc, '-isystem', inc, '-o', exe, src], check=True)
        out = subprocess.run([exe], check=True, capture_output=True,
                             text=True).stdout
    values, sizes, layout = {}, {}, {}
    for line in out.splitlines():
        kind, *rest = line.split()
        if kind == 'M':
            values[rest[0]] = int(rest[1])
        elif kind == 'S':
            sizes[rest[0]] = int(rest[1])
        else:
            layout.setdefault(rest[0], []).append(
                (rest[1], int(rest[2]), int(rest[3])))
    body = ['# SPDX-License-Identifier: GPL-2.0',
            f'# Generated from {os.path.basename(header)} by gen_uapi.py: do not edit.',
            '"""The ioctl numbers, constants and struct layouts of <linux/mflow.h>."""',
            '', 'import struct', '']
    for n in names:
        v = values[n]
        body.append(f'{n} = {v:#x}' if v > 255 else f'{n} = {v}')
    for s, fields in types.items():
        fmt, pos = '=', 0
        for (f, typ, _), (_, off, size) in zip(fields, layout[s]):
            if off > pos:
                fmt += f'{off - pos}x'
            fmt += {'__u32': 'I', '__u64': 'Q'}.get(typ, f'{size}s')
            pos = off + size
        if sizes[s] > pos:
            fmt += f'{sizes[s] - pos}x'
        names_ = ', '.join(repr(f) for f, _, _ in fields)
        body += ['', f'STRUCT_{s.upper()} = struct.Struct({fmt!r})',
                 f'STRUCT_{s.upper()}_FIELDS = ({names_},)']
        if struct_size(fmt) != sizes[s]:
            sys.exit(f'gen_uapi: struct {s}: format {fmt} is not {sizes[s]} bytes')
    with open(output + '.tmp', 'w') as f:
        f.write('\n'.join(body) + '\n')
    os.replace(output + '.tmp', output)


def struct_size(fmt):
    return struct.calcsize(fmt)


if __name__ == '__main__':
    main()
