"""How both path counters (count.sh and between.sh) name and print what
they found: one name per function, whatever closures or instances ran."""

import re


def base(name):
    """The function a name stands for: each generic function counts once,
    and a closure counts as the function that holds it."""
    # callgrind marks a call inside a recursion with 'N: drop it.
    name = re.sub(r"'\d+", "", name)
    # Closures fold into their function: drop every `::{{closure}}`.
    name = re.sub(r"::\{\{closure\}\}(\[\d+\])?", "", name)
    # Generic arguments at the end of a function's name, if shown, dropped:
    # each instance of one generic function counts once.
    while True:
        shorter = re.sub(r"(?<=\w)(::)?<[^<>]*>$", "", name)
        if shorter == name:
            return name
        name = shorter


def show(functions, suffix=lambda name: ""):
    """Print "N functions in M files", then the functions file by file;
    `functions` maps each file to the set of names found in it."""
    count = len({name for names in functions.values() for name in names})
    print(f"{count} functions in {len(functions)} files")
    for path in sorted(functions):
        print(f"\n{path} ({len(functions[path])})")
        for name in sorted(functions[path]):
            print(f"    {name}{suffix(name)}")
