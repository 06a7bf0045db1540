"""The web demo (``vqlab demo``): a Gradio page over the shipped models, fully offline.

Tabs: colorize (before/after slider), reconstruct (with the size of the image's codes), mix two images, and
sample from the ``fashion`` model's PixelCNN prior. The handlers (:func:`colorize`, :func:`reconstruct`,
:func:`mix`, :func:`sample`) are plain functions on PIL images or files; :func:`build_app` wires them into a page
and :func:`serve` runs it on localhost with upload limits and a request queue. Gradio is imported only there.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from vqlab.errors import VQLabError

# An upload's declared width x height, checked before its pixels are decoded. Measured on one CPU core with a
# 4000x3000 (12 MP) photo: colorize (tiled, an earlier h=128 colorizer, the size of today's) 19 s, peak RSS
# 1.7 GB; reconstruct 33 s and 4.7 GB, its code size needing a whole-image encode (25 MP: 8.9 GB).
# --max-megapixels changes the limit.
MAX_PIXELS = 12_000_000
MAX_FILE_SIZE = "20mb"  # Gradio refuses larger uploads before they reach a handler
QUEUE_SIZE = 64  # requests waiting beyond this are refused ("queue is full") instead of piling up
CONCURRENCY = 1  # requests running at once, all tabs together (one model call at a time)
MAX_SAMPLES = 16
MIX_MODES = ("left-right", "top-bottom", "checker")
INSTALL_HINT = 'the web demo needs gradio; install it with: pip install "vqlab[demo]"'


class Models:
    """The models the page uses, each loaded once on first use (thread-safe).

    ``model``: a shipped name or run directory for the colorize or the reconstruct tab (whichever its task is);
    the other tabs keep their shipped defaults: ``colorize``, ``photos`` (reconstruct, mix) and ``fashion``
    (sample; also offered for mix). ``max_pixels``: the largest upload the handlers accept.
    """

    def __init__(self, model: str | os.PathLike[str] | None = None, device: str | None = None,
                 max_pixels: int = MAX_PIXELS) -> None:
        self.names: dict[str, str | os.PathLike[str]] = {"colorize": "colorize", "reconstruct": "photos"}
        self.max_pixels = max_pixels  # per uploaded image
        self._device, self._cache, self._lock = device, {}, threading.Lock()
        if model is not None:
            chosen = self.get(model)
            self.names[chosen.task] = model

    def get(self, name: str | os.PathLike[str]) -> Any:
        """The loaded :class:`vqlab.api.Model` of a shipped name or run directory."""
        from vqlab.api import load

        key = str(name)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = load(name, device=self._device)
            return self._cache[key]

    def for_task(self, tab: str) -> Any:
        """The model of the ``colorize`` or ``reconstruct`` tab."""
        return self.get(self.names[tab])


def open_upload(image: Any, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """An uploaded image as an RGB PIL image, refusing images over ``max_pixels`` before decoding them.

    ``image``: a PIL image, a path, or Gradio's file payload (a dict with ``path``). Raises VQLabError with a
    message for the page: no image, not an image, or too many pixels (a decompression bomb is refused from its
    header, without allocating its pixels).
    """
    from vqlab.images import load_image_file, to_pil

    if image is None:
        raise VQLabError("upload an image first")
    if isinstance(image, dict):
        image = image.get("path")
    if not isinstance(image, (str, os.PathLike)):
        pil = to_pil(image)
        if pil.width * pil.height > max_pixels:
            raise VQLabError(_too_large(pil.width, pil.height, max_pixels))
        return pil
    try:
        with Image.open(image) as im:  # reads the header only
            width, height = im.size
    except Image.DecompressionBombError as exc:  # PIL's own, far higher limit
        raise VQLabError(f"the image declares too many pixels ({exc}); this demo takes at most "
                         f"{max_pixels / 1e6:g} megapixels") from None
    except Exception as exc:  # noqa: BLE001 - PIL raises many types for files that are not images
        raise VQLabError(f"not a readable image ({exc.__class__.__name__}: {exc})") from None
    if width * height > max_pixels:
        raise VQLabError(_too_large(width, height, max_pixels))
    return load_image_file(image)


def _too_large(width: int, height: int, max_pixels: int) -> str:
    return (f"the image is {width}x{height} = {width * height / 1e6:.1f} megapixels; this demo takes at most "
            f"{max_pixels / 1e6:g} megapixels (resize it first)")


@dataclass(frozen=True)
class CodeSize:
    """The size of an image stored as its code map in a .vqz file (header included, codes bit-packed)."""

    file_bytes: int
    pixels: int
    grid: tuple[int, int]  # (h, w) code positions
    num_embeddings: int
    bits_per_code: int

    @property
    def bpp(self) -> float:
        """Bits per pixel of the whole file."""
        return 8 * self.file_bytes / self.pixels

    def text(self) -> str:
        """One Markdown line for the page."""
        h, w = self.grid
        return (f"**{self.file_bytes:,} bytes, {self.bpp:.3f} bits per pixel**: a .vqz file (as `vqlab encode` "
                f"writes it) with the {h}x{w} code map, {self.bits_per_code} bits per code (K={self.num_embeddings})"
                f", bit-packed, plus its header; raw RGB would take 24 bits per pixel.")


def code_size(model: Any, image: Image.Image) -> CodeSize:
    """The .vqz size of ``image``'s codes under a VQ-VAE reconstruct model (VQLabError for other models)."""
    from vqlab.codec import bits_per_code
    from vqlab.compression import check_codec_run, code_images
    from vqlab.images import to_uint8_tensor
    from vqlab.inference import downsample_factor

    run = model.run
    check_codec_run(run, "the code size")
    arr = to_uint8_tensor(image, run.task.data_channels).permute(1, 2, 0).numpy()
    data, _ = code_images(run, [arr], None)
    k = run.model.num_embeddings
    f = downsample_factor(run.model)
    grid = (-(-image.height // f), -(-image.width // f))  # the code map's (h, w), as code_images encoded it
    return CodeSize(len(data), image.width * image.height, grid, k, bits_per_code(k))


def colorize(models: Models, image: Any) -> tuple[Image.Image, Image.Image]:
    """(the grayscale input the model sees, its colorization), both of the input's size."""
    pil = open_upload(image, models.max_pixels)
    return pil.convert("L").convert("RGB"), models.for_task("colorize").colorize(pil)


def reconstruct(models: Models, image: Any) -> tuple[Image.Image, CodeSize | str]:
    """(the reconstruction, the size of the codes, or why there is none: a model without a code map)."""
    pil = open_upload(image, models.max_pixels)
    model = models.for_task("reconstruct")
    out = model.reconstruct(pil)
    try:
        return out, code_size(model, pil)
    except VQLabError as exc:
        return out, f"no code size: {exc}"


def mix(models: Models, a: Any, b: Any, mode: str = "left-right", model: str = "photos") -> Image.Image:
    """The codes of A and B spliced by ``mode`` and decoded (B is resized to A's size; the result has A's size)."""
    if mode not in MIX_MODES:
        raise VQLabError(f"unknown mix mode {mode!r} (choose from {', '.join(MIX_MODES)})")
    if model not in ("photos", "fashion"):
        raise VQLabError(f"mix uses the shipped photos or fashion model, not {model!r}")
    return models.get(model).mix(open_upload(a, models.max_pixels), open_upload(b, models.max_pixels), mode=mode)


def sample(models: Models, n: int = 8, temperature: float = 1.0, seed: int = 0) -> list[Image.Image]:
    """``n`` images from the ``fashion`` model's PixelCNN prior (same seed, same images)."""
    if not 1 <= int(n) <= MAX_SAMPLES:
        raise VQLabError(f"the number of samples must be 1 to {MAX_SAMPLES}, not {n}")
    if not 0.05 <= float(temperature) <= 5:
        raise VQLabError(f"the temperature must be between 0.05 and 5, not {temperature}")
    return models.get("fashion").sample(int(n), temperature=float(temperature), seed=int(seed))


def _gradio() -> Any:
    """The gradio module, with its analytics off; VQLabError with the install command when it is missing."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    try:
        import gradio
    except ImportError:
        raise VQLabError(INSTALL_HINT) from None
    return gradio


def build_app(models: Models) -> Any:
    """The page as a ``gradio.Blocks`` (not launched). Image inputs reach the handlers as uploaded files
    (``preprocess=False``), so the pixel limit is checked before Gradio or PIL decodes them."""
    gr = _gradio()

    def shown(fn: Any, *args: Any) -> Any:
        try:
            return fn(models, *args)
        except VQLabError as exc:
            raise gr.Error(str(exc)) from None

    def do_colorize(image: Any) -> tuple[Image.Image, Image.Image]:
        return shown(colorize, image)

    def do_reconstruct(image: Any) -> tuple[Image.Image, str]:
        out, size = shown(reconstruct, image)
        return out, size.text() if isinstance(size, CodeSize) else size

    def do_mix(a: Any, b: Any, mode: str, model: str) -> Image.Image:
        return shown(mix, a, b, mode, model)

    def do_sample(n: float, temperature: float, seed: float) -> list[Image.Image]:
        return [im.resize((im.width * 4, im.height * 4), Image.NEAREST) for im in shown(sample, n, temperature, seed)]

    upload = {"type": "filepath", "image_mode": None, "sources": ["upload", "clipboard"]}
    run = {"concurrency_id": "models", "preprocess": False}
    with gr.Blocks(title="vqlab demo", analytics_enabled=False, delete_cache=(600, 3600)) as app:
        gr.Markdown("# vqlab: VQ-VAE demo\nShipped models, running on this machine. Uploads: at most "
                    f"{MAX_FILE_SIZE.upper()} and {models.max_pixels / 1e6:g} megapixels; requests wait in a queue.")
        with gr.Tab("colorize"):
            gr.Markdown("The shipped colorizer learned from 45 photographs and keeps its colours faint, which "
                        "is what helps on photographs it has never seen (docs/colorize.md); a run of your own: "
                        "`vqlab demo --model RUN`.")
            c_in = gr.Image(label="photo (its luminance is colorized)", elem_id="colorize-input", **upload)
            c_btn = gr.Button("colorize", variant="primary", elem_id="colorize-run")
            c_out = gr.ImageSlider(label="gray input | colorized", type="pil", format="png", elem_id="colorize-output")
            c_btn.click(do_colorize, c_in, c_out, api_name="colorize", **run)
        with gr.Tab("reconstruct"):
            r_in = gr.Image(label="image", elem_id="reconstruct-input", **upload)
            r_btn = gr.Button("reconstruct", variant="primary")
            r_out = gr.Image(label="reconstruction", type="pil", format="png")
            r_size = gr.Markdown()
            r_btn.click(do_reconstruct, r_in, [r_out, r_size], api_name="reconstruct", **run)
        with gr.Tab("mix"):
            with gr.Row():
                m_a = gr.Image(label="A", **upload)
                m_b = gr.Image(label="B (resized to A's size)", **upload)
            m_mode = gr.Radio(list(MIX_MODES), value="left-right", label="which codes come from A")
            m_model = gr.Radio(["photos", "fashion"], value="photos", label="model")
            m_btn = gr.Button("mix", variant="primary")
            m_out = gr.Image(label="mix", type="pil", format="png")
            m_btn.click(do_mix, [m_a, m_b, m_mode, m_model], m_out, api_name="mix", **run)
        with gr.Tab("sample"):
            gr.Markdown("New Fashion-MNIST images from the `fashion` model's PixelCNN prior over its code maps.")
            s_n = gr.Slider(1, MAX_SAMPLES, value=8, step=1, label="samples")
            s_t = gr.Slider(0.1, 2.0, value=1.0, step=0.05, label="temperature")
            s_seed = gr.Number(value=0, precision=0, label="seed")
            s_btn = gr.Button("sample", variant="primary")
            s_out = gr.Gallery(label="samples", format="png", columns=8)
            s_btn.click(do_sample, [s_n, s_t, s_seed], s_out, api_name="sample", **run)
    return app


def serve(host: str = "127.0.0.1", port: int = 7860, model: str | Path | None = None,
          max_pixels: int = MAX_PIXELS) -> None:
    """Load the models, then serve the page on ``host:port`` until interrupted (no public share link)."""
    _gradio()  # before loading anything: a missing gradio is reported first
    if max_pixels < 1:
        raise VQLabError(f"the pixel limit must be at least 1 pixel, not {max_pixels}")
    models = Models(model, max_pixels=max_pixels)
    for name in ("fashion", "photos"):
        models.get(name)
    models.for_task("colorize")
    app = build_app(models)
    app.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    try:
        app.launch(server_name=host, server_port=port, share=False, max_file_size=MAX_FILE_SIZE, ssr_mode=False,
                   mcp_server=False, inbrowser=False, show_error=False, footer_links=["api"], quiet=True,
                   prevent_thread_lock=True)
    except OSError:  # Gradio's message names its environment variable, not our options
        raise VQLabError(f"cannot listen on {host}:{port}: the port is taken or the address is not one of this "
                         f"machine's (choose another with --port / --host)") from None
    print(f"vqlab demo on {app.local_url} (Ctrl+C to stop)", flush=True)
    app.block_thread()  # until Ctrl+C, which closes the server
