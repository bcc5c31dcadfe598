"""Nearest-neighbour similarity, encoders (the real CLIP loading path), cache, correlation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from analysis.embeddings import (
    CLIPImageEncoder,
    EmbeddingCache,
    WeightFreeEncoder,
    read_magnitudes,
    resolve_encoder,
    to_rgb_uint8,
    window,
)
from analysis.experiment import load_experiment
from analysis.similarity import ALL_PAIRS, OOD_PAIRS, max_cosine_similarity, train_test_similarity
from analysis.stats import BootstrapSettings

TINY_VISION = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                   num_attention_heads=4, image_size=32, patch_size=8)


def brute_force(test: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Max cosine similarity, one pair at a time."""
    return np.array([max(float(t @ r) / (np.linalg.norm(t) * np.linalg.norm(r)) for r in train)
                     for t in test])


@pytest.mark.parametrize("chunk", [1, 16, 4096])
def test_max_cosine_similarity_matches_brute_force(chunk):
    rng = np.random.default_rng(0)
    test, train = rng.normal(size=(40, 8)), rng.normal(size=(103, 8))
    assert np.allclose(max_cosine_similarity(test, train, chunk), brute_force(test, train),
                       atol=1e-5)


def test_max_cosine_similarity_edge_cases():
    x = np.eye(3)
    assert np.allclose(max_cosine_similarity(x, x, chunk=2), 1.0)
    assert np.isnan(max_cosine_similarity(x, np.zeros((0, 3)))).all()
    with pytest.raises(ValueError, match="chunk"):
        max_cosine_similarity(x, x, chunk=0)


def test_window_and_rgb():
    image = np.linspace(0, 10, 400, dtype=np.float32).reshape(20, 20)
    w = window(image)
    assert w.min() == 0 and w.max() == pytest.approx(1.0)
    rgb = to_rgb_uint8(image)
    assert rgb.shape == (20, 20, 3) and rgb.dtype == np.uint8 and (rgb[..., 0] == rgb[..., 2]).all()
    assert (window(np.zeros((4, 4))) == 0).all()


def test_weight_free_encoder():
    rng = np.random.default_rng(0)
    images = [rng.random((40, 30)), rng.random((32, 32))]
    encoder = WeightFreeEncoder()
    emb = encoder.embed(images)
    assert emb.shape == (2, 256) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    assert np.array_equal(emb, encoder.embed(images))
    assert encoder.name.startswith("weight-free") and "no CLIP weights" in encoder.name
    assert resolve_encoder(None).key == encoder.key


def _processor_class():
    try:
        from transformers import CLIPImageProcessorPil as Processor
    except ImportError:  # transformers 4.x
        from transformers import CLIPImageProcessor as Processor
    return Processor


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> tuple:
    """A tiny randomly initialised CLIP vision model with projection, saved like a download."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny_clip")
    model = CLIPVisionModelWithProjection(CLIPVisionConfig(**TINY_VISION, projection_dim=16))
    model.save_pretrained(folder)
    _processor_class()(size={"shortest_edge": 32},
                       crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder, model.eval()


def test_clip_encoder_loads_the_saved_model(tiny_clip):
    folder, model = tiny_clip
    rng = np.random.default_rng(1)
    images = [rng.random((40, 30)).astype(np.float32), rng.random((64, 48)).astype(np.float32),
              rng.random((32, 32)).astype(np.float32)]
    encoder = CLIPImageEncoder(folder, batch_size=2)
    emb = encoder.embed(images)
    assert emb.shape == (3, 16) and emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(emb, encoder.embed(images))  # deterministic
    assert "CLIP" in encoder.name and encoder.key.startswith("clip-")
    # the same vectors as the model itself on the processor's pixels
    pixels = encoder.processor(images=[to_rgb_uint8(im) for im in images],
                               return_tensors="pt")["pixel_values"]
    assert pixels.shape == (3, 3, 32, 32)
    with torch.no_grad():
        direct = model(pixel_values=pixels).image_embeds.numpy()
    direct /= np.linalg.norm(direct, axis=1, keepdims=True)
    assert np.allclose(emb, direct, atol=1e-5)
    # a file inside the folder, and the environment variable, reach the same model
    weights = next(folder.glob("*.safetensors"))
    assert np.allclose(CLIPImageEncoder(weights).embed(images), emb, atol=1e-6)


def test_resolve_encoder_reads_the_environment(tiny_clip, monkeypatch, tmp_path):
    folder, _ = tiny_clip
    monkeypatch.setenv("MRI_STUDY_CLIP", str(folder))
    assert isinstance(resolve_encoder(), CLIPImageEncoder)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_encoder(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="config.json"):
        resolve_encoder(tmp_path)


def test_full_clip_checkpoint_without_processor_config(tmp_path):
    """A folder saved from a whole CLIPModel: the vision tower and its projection are used, and
    the processor is built from the image size."""
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    config = CLIPConfig(vision_config=TINY_VISION, projection_dim=16,
                        text_config=dict(hidden_size=32, intermediate_size=37, vocab_size=99,
                                         num_hidden_layers=1, num_attention_heads=4))
    model = CLIPModel(config).eval()
    model.save_pretrained(tmp_path)
    encoder = CLIPImageEncoder(tmp_path)
    image = np.random.default_rng(2).random((32, 32)).astype(np.float32)
    emb = encoder.embed([image])
    assert emb.shape == (1, 16)
    pixels = encoder.processor(images=[to_rgb_uint8(image)], return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        features = model.get_image_features(pixel_values=pixels)
    features = getattr(features, "pooler_output", features).numpy()
    assert np.allclose(emb, features / np.linalg.norm(features), atol=1e-5)


def test_embedding_cache_reuses_vectors(tiny_data_dir, tmp_path):
    from mri.data.metadata import scan_directory

    path = scan_directory(tiny_data_dir).files["path"].iloc[0]
    first = EmbeddingCache(WeightFreeEncoder(), root=tmp_path)
    a = first.volume(path, [0, 1])
    assert first.computed == 2 and a.shape == (2, 256)
    second = EmbeddingCache(WeightFreeEncoder(), root=tmp_path)
    assert np.array_equal(second.volume(path, [1, 0]), a[::-1])
    assert second.computed == 0
    second.volume(path, [1, 2])
    assert second.computed == 1
    expected = WeightFreeEncoder().embed(read_magnitudes(path, [2]))
    assert np.allclose(second.volume(path, [2]), expected)


def test_train_test_similarity_against_brute_force(recon_dir, tiny_data_dir):
    from mri.data.distributions import select
    from mri.data.metadata import scan_directory

    exp = load_experiment(recon_dir)
    encoder = WeightFreeEncoder()
    result = train_test_similarity(exp, tiny_data_dir, encoder,
                                   settings=BootstrapSettings(n_resamples=300))
    pairs = result.pairs.set_index(["mixture", "test_set"])
    assert len(pairs) == 4 * 5 and result.encoder == encoder.name
    assert pairs.loc[("single:knee_pd_3T", "knee_pd_3T"), "in_mixture"]
    assert not pairs.loc[("single:knee_pd_3T", "brain_t2_3T"), "in_mixture"]
    # brute force for one pair: every train slice of knee_pd_3T against every test slice
    files = scan_directory(tiny_data_dir).files

    def embed(dist, split):
        rows = select(files, dist)
        rows = rows[rows["split"] == split]
        images = [im for p, n in zip(rows["path"], rows["slices"], strict=True)
                  for im in read_magnitudes(p, range(n))]
        return encoder.embed(images)

    expected = brute_force(embed("brain_t2_3T", "test"), embed("knee_pd_3T", "train")).mean()
    assert pairs.loc[("single:knee_pd_3T", "brain_t2_3T"), "similarity"] == pytest.approx(
        expected, abs=1e-5)
    assert pairs.loc[("single:knee_pd_3T", "knee_pd_3T"), "similarity"] > expected
    corr = result.correlations.set_index("pairs")
    assert set(corr.index) == {OOD_PAIRS, ALL_PAIRS}
    assert corr.loc[OOD_PAIRS, "n"] == int((~result.pairs["in_mixture"]).sum())
    assert -1 <= corr.loc[OOD_PAIRS, "pearson_r"] <= 1


def test_image_sets_read_named_label_files(tiny_data_dir, tmp_path):
    """The report's --annotations: healthy-only slices come from the named CSVs (fastMRI+'s
    knee.csv and brain.csv), the same as from the directory's annotations.csv."""
    import pandas as pd

    from analysis.similarity import ImageSets

    rows = pd.read_csv(tiny_data_dir / "annotations.csv", dtype=str, keep_default_na=False)
    brain = tmp_path / "brain.csv"
    rows[rows["file"].str.contains("AXT2")].to_csv(brain, index=False)
    cache = EmbeddingCache(WeightFreeEncoder(), root=tmp_path)
    default = ImageSets(tiny_data_dir, cache)
    named = ImageSets(tiny_data_dir, cache, annotation_csvs=[brain])
    for dist in ("brain_t2_3T", "knee_pd_3T"):
        every = default.slices(dist, "train")
        healthy = named.slices(dist, "train", healthy_only=True)
        if dist.startswith("brain"):
            assert healthy.equals(default.slices(dist, "train", healthy_only=True))
            assert len(healthy) < len(every)
        else:  # brain.csv labels no knee: every knee slice counts as healthy
            assert healthy.equals(every)
