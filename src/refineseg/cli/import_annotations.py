"""``refineseg import-annotations``: annotation-tool exports -> the ``generic`` dataset layout."""

from __future__ import annotations

import argparse
import sys

HELP = "convert COCO, LabelMe, CVAT, Label Studio or VOC-style annotations into the generic dataset layout"

DESCRIPTION = """\
Convert an annotation tool's export into refineseg's generic layout, ready for
--dataset generic --root ROOT:
  ROOT/classes.txt                 one 'NAME R G B' per line (line order = class index),
                                   then '@ignore value=255'
  ROOT/train/images/, train/masks/ copies of the images; STEM.png palette masks
                                   (pixel value = class index, 255 = ignore)
  ROOT/val/images/, val/masks/     with --val-fraction above 0

formats (SOURCE):
  coco     a COCO instances JSON file (polygons, uncompressed or compressed RLE);
           categories are classes 1..N by category id, 0 is background (so is a category
           named _background_, as labelme2coco writes it); needs --images
  labelme  a folder of LabelMe .json files (searched recursively); classes are background
           then every label with pixels in an imported mask, sorted, unless --classes FILE
           lists them; polygons, rectangles, oriented rectangles, circles and masks are
           filled, points and lines skipped; images from each file's imagePath, or by file
           name in --images, else the image the file embeds (imageData)
  cvat     CVAT's default 'CVAT for images 1.1' export: annotations.xml, or the unzipped
           folder holding it; labels in <meta> order, background first; polygons, boxes,
           ellipses and masks (RLE) painted by z_order, polylines and points left out (a
           note); images in --images or images/ beside annotations.xml (images/SUBSET/
           for a project). Or CVAT's 'Segmentation mask 1.1' export folder (labelmap.txt,
           SegmentationClass/): labelmap order, background first; images in --images or
           SOURCE/JPEGImages
  voc      a folder of palette index PNGs like VOC's SegmentationClass/; names from
           --classes FILE or the 21 PASCAL VOC classes; images in --images or
           JPEGImages/ beside SOURCE, matched by stem
  label-studio
           a Label Studio project's 'JSON' export file (a list of tasks); per task the
           latest annotation that is neither cancelled nor skipped (predictions are never
           imported; a task without one is a note); brushlabels (RLE) and polygonlabels
           are painted, other regions left out (a note); classes are --classes FILE's in
           its order, else background then every label with pixels, sorted; unpainted
           pixels are the background class when there is one, else 255; needs --images:
           the folder holding the tasks' images, found by the file name of their URL
           (/data/upload/... without the 8-hex prefix Label Studio adds on upload,
           /data/local-files/?d=PATH as PATH or its name, http(s)://.../NAME as NAME)

overlaps (where shapes cover the same pixel):
  labelme  shapes are painted in file order, later shapes on top (as LabelMe draws them)
  cvat     shapes are painted by increasing z_order (file order where equal), as CVAT
           draws them
  label-studio
           regions are painted in the annotation's result order, later regions on top
  coco     annotations are painted in decreasing area, so a smaller object in front of a
           larger one stays visible; iscrowd regions are painted last, as ignore (255)

Bad annotations (a missing image, a polygon a pixel or more outside the image (clipped;
less than a pixel over the border is clipped quietly), an unknown category, an empty or
degenerate polygon, an unknown colour, an unreadable file) are listed at the end, one
line each, and do not stop the import; with --strict any of them
makes it write nothing and exit 1. --output must not exist or be empty: nothing is ever
overwritten, and ROOT appears only once complete. The split is a shuffle by --seed of the
sorted image names: the same inputs and seed give the same split.

examples:
  refineseg import-annotations coco instances_default.json --images images/ --output data/mine --val-fraction 0.2
  refineseg import-annotations labelme labelme_jsons/ --output data/mine --classes labels.txt
  refineseg import-annotations cvat cvat_export/ --output data/mine --strict
  refineseg import-annotations cvat task_export/annotations.xml --output data/mine
  refineseg import-annotations voc VOC2012/SegmentationClass --output data/voc_generic
  refineseg import-annotations label-studio export.json --images media/upload/1/ --output data/mine --classes classes.txt
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``import-annotations`` command to the ``refineseg`` parser.

    Args:
        sub: The ``refineseg`` parser's sub-command action (``add_subparsers``).
    """
    from ..constants import ANNOTATION_FORMATS as FORMATS

    p = sub.add_parser(
        "import-annotations", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("format", metavar="FORMAT", choices=FORMATS, help=f"one of {', '.join(FORMATS)}")
    p.add_argument(
        "source",
        metavar="SOURCE",
        help="the export: a COCO, Label Studio JSON or CVAT XML file, or a folder (see above)",
    )
    p.add_argument(
        "--images",
        metavar="DIR",
        help="folder of the images (default: see the formats above; coco, label-studio need it)",
    )
    p.add_argument("--output", metavar="ROOT", required=True, help="new dataset folder (must not exist or be empty)")
    p.add_argument("--classes", metavar="FILE", help="class names, one per line (labelme, voc, label-studio)")
    p.add_argument(
        "--val-fraction", type=float, default=0.0, metavar="F", help="share of images for ROOT/val (default 0)"
    )
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the train/val shuffle (default 0)")
    p.add_argument("--strict", action="store_true", help="write nothing and exit 1 if any annotation has a problem")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Import the annotations ``args`` names into a new generic dataset and print what was done.

    Args:
        args: The parsed command line.

    Returns:
        The exit status, 0 (problems are listed but, without ``--strict``, do not fail).

    Raises:
        AnnotationImportError: If the import fails (a ``ValueError``), or ``--strict`` and an
            annotation has a problem; the problems are printed on stderr first.
    """
    from ..data.importers import AnnotationImportError, import_annotations

    try:
        report = import_annotations(
            args.format,
            args.source,
            images=args.images,
            output=args.output,
            val_fraction=args.val_fraction,
            seed=args.seed,
            classes=args.classes,
            strict=args.strict,
        )
    except AnnotationImportError as exc:
        problems = exc.report.problems
        if problems:
            print(f"problems ({len(problems)}):", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        raise
    print(report.summary())
    if report.notes:
        print(f"notes ({len(report.notes)}):")
        for line in report.notes:
            print(f"  {line}")
    if report.problems:
        print(f"problems ({len(report.problems)}):")
        for line in report.problems:
            print(f"  {line}")
    return 0
