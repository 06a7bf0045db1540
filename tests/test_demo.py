"""The web demo (vqlab/demo.py): its handlers on small images, the upload limits, and the real server under 20
concurrent requests and in headless Chromium (skipped without gradio, selenium, chromium or chromedriver)."""

from __future__ import annotations

import math
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import vqlab
from vqlab import demo
from vqlab.errors import VQLabError

SRC = Path(__file__).resolve().parents[1] / "src"
MEMORY_BOUND = 1.5e9  # bytes the server's peak RSS may grow by under the 20-request load


def photo(width: int, height: int, offset: int = 0) -> Image.Image:
    """A crop of scikit-image's cat photograph (offset shifts the crop)."""
    from skimage import data

    arr = data.chelsea()[::2, ::2]
    return Image.fromarray(np.ascontiguousarray(arr[offset:offset + height, offset:offset + width]))


def bomb_png(path: Path, width: int, height: int) -> Path:
    """A valid 1-bit PNG of width x height black pixels: a few kB on disk, width * height bytes once decoded."""
    row = b"\x00" + bytes((width + 7) // 8)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    head = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + head + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def models() -> demo.Models:
    return demo.Models(device="cpu")


def test_colorize_gives_the_gray_input_and_a_colour_image_of_its_size(models, tmp_path):
    pil = photo(45, 30)
    pil.save(tmp_path / "cat.png")
    gray, out = demo.colorize(models, {"path": str(tmp_path / "cat.png")})  # as Gradio hands over an upload
    assert gray.size == out.size == (45, 30)
    assert np.array_equal(np.asarray(gray)[..., 0], np.asarray(pil.convert("L")))
    assert np.array_equal(np.asarray(out), np.asarray(vqlab.load("colorize", device="cpu").colorize(pil)))
    rgb = np.asarray(out).astype(int)
    assert np.abs(rgb[..., 0] - rgb[..., 2]).mean() > 1  # not gray


def test_reconstruct_reports_the_vqz_size_of_the_code_map(models):
    from vqlab.codec import bits_per_code

    pil = photo(50, 37)
    out, size = demo.reconstruct(models, pil)
    assert out.size == (50, 37)
    model = models.for_task("reconstruct")
    codes = model.encode(pil)
    assert size.grid == codes.shape == (math.ceil(37 / 4), math.ceil(50 / 4))
    assert size.num_embeddings == 512 and size.bits_per_code == bits_per_code(512) == 9
    payload = math.ceil(codes.size * 9 / 8)  # the bit-packed codes; the rest is the .vqz header
    assert payload < size.file_bytes < payload + 100
    assert size.bpp == pytest.approx(8 * size.file_bytes / (50 * 37))
    assert f"{size.file_bytes:,} bytes" in size.text() and f"{size.bpp:.3f} bits per pixel" in size.text()


def test_reconstruct_with_a_continuous_model_says_why_there_is_no_code_size(monkeypatch, models):
    def refuse(model, image):
        raise VQLabError("the code size needs a VQ-VAE")

    monkeypatch.setattr(demo, "code_size", refuse)
    out, size = demo.reconstruct(models, photo(20, 20))
    assert out.size == (20, 20) and size == "no code size: the code size needs a VQ-VAE"


@pytest.mark.parametrize("model", ["photos", "fashion"])
def test_mix_gives_an_image_of_a_size(models, model):
    out = demo.mix(models, photo(40, 32), photo(24, 24, offset=30), "top-bottom", model)
    assert isinstance(out, Image.Image) and out.size == (40, 32)
    with pytest.raises(VQLabError, match="mix mode"):
        demo.mix(models, photo(8, 8), photo(8, 8), "interpolate", model)


def test_sample_gives_n_images_and_the_same_ones_for_the_same_seed(models):
    first = demo.sample(models, 3, 1.0, 7)
    assert len(first) == 3 and all(isinstance(im, Image.Image) and im.size == (28, 28) for im in first)
    again = demo.sample(models, 3, 1.0, 7)
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(first, again))
    for bad in ({"n": 0}, {"n": demo.MAX_SAMPLES + 1}, {"temperature": 0.0}):
        with pytest.raises(VQLabError):
            demo.sample(models, **{"n": 2, "temperature": 1.0, **bad})


@pytest.mark.parametrize("size", [(6000, 5000), (20000, 20000)])
def test_pixel_limit_refuses_a_decompression_bomb_from_its_header(tmp_path, size):
    path = bomb_png(tmp_path / "bomb.png", *size)
    assert path.stat().st_size < 100_000
    with pytest.raises(VQLabError, match=r"this demo takes at most 12 megapixels"):
        demo.open_upload(str(path))
    with pytest.raises(VQLabError, match="upload an image first"):
        demo.open_upload(None)
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(VQLabError, match="not a readable image"):
        demo.open_upload(tmp_path / "text.png")


def test_the_pixel_limit_applies_to_every_image_handler():
    small = demo.Models(device="cpu", max_pixels=999)
    pil = photo(40, 25)  # 1000 pixels
    for call in (lambda: demo.colorize(small, pil), lambda: demo.reconstruct(small, pil),
                 lambda: demo.mix(small, photo(10, 10), pil)):
        with pytest.raises(VQLabError, match="40x25 = 0.0 megapixels; this demo takes at most 0.000999 megapixels"):
            call()
    assert demo.colorize(demo.Models(device="cpu", max_pixels=1000), pil)[1].size == (40, 25)


def test_models_option_replaces_the_tab_of_its_task():
    m = demo.Models(str(vqlab.shipped.path("photos")), device="cpu")
    assert m.names["reconstruct"] == str(vqlab.shipped.path("photos")) and m.names["colorize"] == "colorize"
    with pytest.raises(VQLabError, match="does not exist"):
        demo.Models("no-such-run", device="cpu")


# ---- the real server ----

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(pid: int, key: str) -> int:
    """A memory line of /proc/PID/status (VmRSS, VmHWM) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``vqlab demo`` in a subprocess on a free localhost port (one torch thread): (url, process)."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install 'vqlab[demo]')")
    if not Path("/proc/self/status").exists():
        pytest.skip("the memory check reads /proc")
    tmp = tmp_path_factory.mktemp("demo-server")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "OMP_NUM_THREADS": "1", "GRADIO_TEMP_DIR": str(tmp / "gradio"), "CUDA_VISIBLE_DEVICES": ""}
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "vqlab", "demo", "--port", str(port)], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120  # imports and model loading on a loaded 2-core machine
    while "vqlab demo on" not in (tmp / "server.log").read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the demo server did not start:\n{(tmp / 'server.log').read_text()}")
        time.sleep(0.5)
    yield url, proc
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_server_listens_on_localhost_only(server):
    url, _ = server
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    listening = [line.split()[1] for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
                 if line.split()[3] == "0A" and int(line.split()[1].split(":")[1], 16) == port]
    assert listening == [f"0100007F:{port:04X}"]  # 127.0.0.1, little-endian hex
    page = urllib.request.urlopen(url, timeout=30).read().decode()
    assert "<html" in page.lower()


def test_server_refuses_bombs_and_large_uploads_with_a_message(server, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    url, _ = server
    client = Client(url, verbose=False, download_files=str(tmp_path))
    with pytest.raises(AppError, match="at most 12 megapixels"):
        client.predict(handle_file(str(bomb_png(tmp_path / "bomb.png", 20000, 20000))), api_name="/colorize")
    with pytest.raises(AppError, match="4000x3001 = 12.0 megapixels"):  # just over the limit
        client.predict(handle_file(str(bomb_png(tmp_path / "over.png", 4000, 3001))), api_name="/colorize")
    big = b"--x\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.png\"\r\n\r\n"
    body = big + bytes(21 * 2**20) + b"\r\n--x--\r\n"
    request = urllib.request.Request(url + "gradio_api/upload", data=body, method="POST",
                                     headers={"Content-Type": "multipart/form-data; boundary=x"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)
    assert refused.value.code == 413


def test_twenty_concurrent_colorize_requests_are_right_and_memory_stays_bounded(server, tmp_path):
    from gradio_client import Client, handle_file

    url, proc = server
    client = Client(url, verbose=False, download_files=str(tmp_path / "downloads"))
    inputs = []
    for i in range(20):
        pil = photo(48 + 2 * i, 40 + i, offset=5 * i)  # distinct sizes: a mixed-up answer would show
        pil.save(tmp_path / f"in_{i}.png")
        inputs.append(pil)
    client.predict(handle_file(str(tmp_path / "in_0.png")), api_name="/colorize")  # warm up
    rss_before = _status(proc.pid, "VmRSS")
    start = time.monotonic()
    jobs = [client.submit(handle_file(str(tmp_path / f"in_{i}.png")), api_name="/colorize") for i in range(20)]
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda job: job.result(timeout=180), jobs))
    elapsed = time.monotonic() - start
    peak = _status(proc.pid, "VmHWM")
    expected = colorized_as_the_server_does(inputs)
    for pil, want, (gray_path, out_path) in zip(inputs, expected, results):
        gray, out = np.asarray(Image.open(gray_path).convert("RGB")), np.asarray(Image.open(out_path).convert("RGB"))
        assert out.shape == gray.shape == (pil.height, pil.width, 3)
        assert not np.array_equal(out, gray)
        assert np.array_equal(out, want)
    print(f"\n20 concurrent colorize requests: {elapsed:.1f} s; server RSS {rss_before / 1e6:.0f} MB before, "
          f"peak {peak / 1e6:.0f} MB")
    assert peak - rss_before < MEMORY_BOUND


def colorized_as_the_server_does(images: list[Image.Image]) -> list[np.ndarray]:
    """``vqlab.load("colorize").colorize`` of each image with one torch thread, like the server."""
    reference, threads = vqlab.load("colorize", device="cpu"), torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return [np.asarray(reference.colorize(pil)) for pil in images]
    finally:
        torch.set_num_threads(threads)


def _chrome():
    pytest.importorskip("selenium", reason="selenium is not installed (pip install 'vqlab[demo]')")
    chromium, driver = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.skip("chromium and chromedriver are needed (Debian: apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--window-size=1280,1600"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(driver), options=options)


def test_browser_uploads_a_photo_and_sees_it_colorized(server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    url, _ = server
    pil = photo(72, 56, offset=40)
    pil.save(tmp_path / "cat.png")
    browser = _chrome()
    try:
        wait = WebDriverWait(browser, 40)
        browser.get(url)
        upload = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#colorize-input input[type=file]")))
        upload.send_keys(str(tmp_path / "cat.png"))
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#colorize-input img")))  # uploaded
        browser.find_element(By.CSS_SELECTOR, "#colorize-run").click()
        shown = wait.until(lambda b: [im.get_attribute("src") for im in
                                      b.find_elements(By.CSS_SELECTOR, "#colorize-output img")
                                      if (im.get_attribute("src") or "").startswith("http")] or False)
    finally:
        browser.quit()
    got = [np.asarray(Image.open(urllib.request.urlopen(src, timeout=30)).convert("RGB")) for src in shown]
    assert len(got) == 2 and all(g.shape == (56, 72, 3) for g in got)  # the slider's two sides
    assert any(np.array_equal(g, colorized_as_the_server_does([pil])[0]) for g in got)
