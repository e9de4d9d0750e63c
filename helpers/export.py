"""``python -m helpers.export --out DIR``: the shipped pricer exported to ONNX, float32 and int8
(Chapter 12). The code is ``helpers.inference.export``; ``--help`` lists the options.
"""

from .inference.export.command import main

if __name__ == "__main__":
    main()
