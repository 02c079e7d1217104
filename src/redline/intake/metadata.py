"""A file's metadata summary for the intake manifest's private part: EXIF date, camera and software, C2PA
presence, and which generator's PNG text chunks it carries (the chunk names and the Software text, never
the prompt: prompts can hold a name). What an investigator asks first about an AI-made picture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

_EXIF_IFD = 0x8769
_TAGS = {306: "exif_datetime", 271: "camera_make", 272: "camera_model", 305: "software"}
_DATETIME_ORIGINAL = 36867
#: PNG text chunk names by the generator that writes them.
_GENERATORS = {
    "parameters": "AUTOMATIC1111 / Forge (parameters)",
    "prompt": "ComfyUI (prompt)",
    "workflow": "ComfyUI (workflow)",
    "invokeai_metadata": "InvokeAI",
    "sd-metadata": "InvokeAI (legacy)",
    "fooocus_scheme": "Fooocus",
}
_SCAN_BYTES = 4 * 1024 * 1024


def _text(value: object, limit: int = 80) -> str:
    return str(value).replace("\x00", "").strip()[:limit]


def metadata_summary(path: Path) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    with path.open("rb") as fh:
        head = fh.read(_SCAN_BYTES)
    # C2PA manifests live in JUMBF boxes (JPEG APP11, PNG caBX, ISO BMFF uuid boxes) labelled "c2pa".
    summary["c2pa"] = b"c2pa" in head and (b"jumb" in head or b"caBX" in head)
    try:
        from PIL import Image

        with Image.open(path) as image:
            exif = image.getexif()
            for tag, name in _TAGS.items():
                if tag in exif:
                    summary[name] = _text(exif[tag])
            original = exif.get_ifd(_EXIF_IFD).get(_DATETIME_ORIGINAL)
            if original:
                summary["exif_datetime_original"] = _text(original)
            if image.format == "PNG":
                keys = sorted(str(k) for k in image.info if isinstance(image.info.get(k), str))
                if keys:
                    summary["png_text_keys"] = keys[:20]
                generators = sorted({_GENERATORS[k] for k in keys if k in _GENERATORS})
                software = image.info.get("Software") or image.info.get("software")
                if software:
                    generators.append(_text(software))
                if generators:
                    summary["generator"] = generators
    except Exception as exc:  # a video or a file Pillow cannot read: the hash says what it is
        summary["unreadable_by_pillow"] = type(exc).__name__
    return summary
