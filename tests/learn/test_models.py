"""Models: shapes, the backbone / head split, seeds, local weights in crowdwise and
torchvision formats (ImageNet-sized heads skipped), and clear errors."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
tvm = pytest.importorskip("torchvision.models")

from crowdwise.errors import InputError  # noqa: E402
from crowdwise.learn.models import Classifier, build_model, load_weights  # noqa: E402



def test_mlp_shapes_embed_and_head():
    m = build_model("mlp", 4, n_features=6, hidden=(16, 8), dropout=0.2, seed=0)
    assert isinstance(m, Classifier) and m.n_embed == 8 and m.n_classes == 4
    x = torch.randn(5, 6)
    m.eval()
    assert m.embed(x).shape == (5, 8)
    torch.testing.assert_close(m(x), m.head(m.embed(x)))
    # no hidden layer: multinomial logistic regression, the embedding is the input
    lr = build_model("mlp", 3, n_features=6, hidden=(), seed=0)
    assert lr.n_embed == 6 and sum(p.numel() for p in lr.parameters()) == 6 * 3 + 3
    torch.testing.assert_close(lr.embed(x), x)


def test_labelme_dense_head_matches_the_paper():
    # Rodrigues & Pereira 2018: Dense(128, relu), Dropout(0.5), Dense(K) over VGG features
    m = build_model("labelme", 8, n_features=512, seed=0)
    kinds = [type(layer).__name__ for layer in m.backbone]
    assert kinds == ["Linear", "ReLU", "Dropout"] and m.backbone[2].p == 0.5
    assert m.n_embed == 128 and sum(p.numel() for p in m.parameters()) == 512 * 128 + 128 + 128 * 8 + 8


def test_seed_gives_the_same_weights_and_keeps_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = build_model("mlp", 3, n_features=4, seed=7)
    after = torch.rand(3)
    b = build_model("mlp", 3, n_features=4, seed=7)
    c = build_model("mlp", 3, n_features=4, seed=8)
    assert torch.equal(after, expected)  # building with a seed did not consume the global RNG
    for (k, va), vb, vc in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values()):
        assert torch.equal(va, vb), k
    assert not torch.equal(a.head.weight, c.head.weight)


@pytest.mark.parametrize("small", [False, True])
def test_resnet18_forward_on_tiny_images(small):
    m = build_model("resnet18", 5, small_images=small, seed=0).eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert m(x).shape == (2, 5) and m.embed(x).shape == (2, 512)
    assert m.backbone.conv1.kernel_size == ((3, 3) if small else (7, 7))


def test_labelme_image_model_forward():
    m = build_model("labelme", 3, seed=0).eval()
    with torch.no_grad():
        assert m(torch.randn(1, 3, 32, 32)).shape == (1, 3)
    assert m.n_embed == 128


def test_weights_from_a_local_crowdwise_file(tmp_path):
    a = build_model("mlp", 3, n_features=4, seed=1)
    f = tmp_path / "w.pt"
    torch.save(a.state_dict(), f)
    b = build_model("mlp", 3, n_features=4, seed=2, weights=f)
    x = torch.randn(4, 4)
    torch.testing.assert_close(b.eval()(x), a.eval()(x))
    torch.save({"state_dict": a.state_dict()}, tmp_path / "wrapped.pt")
    c = build_model("mlp", 3, n_features=4, seed=3, weights=tmp_path / "wrapped.pt")
    assert torch.equal(c.head.weight, a.head.weight)


def test_torchvision_format_weights_with_imagenet_head(tmp_path):
    torch.manual_seed(0)
    tv = tvm.resnet18(weights=None)  # stands for an ImageNet checkpoint saved locally (1000 classes)
    f = tmp_path / "resnet18-imagenet.pth"
    torch.save(tv.state_dict(), f)
    m = build_model("resnet18", 4, weights=f, seed=5)
    assert torch.equal(m.backbone.conv1.weight, tv.conv1.weight)
    assert torch.equal(m.backbone.layer4[1].bn2.running_var, tv.layer4[1].bn2.running_var)
    fresh = build_model("resnet18", 4, seed=5)
    assert torch.equal(m.head.weight, fresh.head.weight)  # 1000-class head skipped, kept as built
    # the same number of classes: the head is loaded too
    tv3 = tvm.resnet18(weights=None, num_classes=4)
    torch.save(tv3.state_dict(), f)
    assert torch.equal(build_model("resnet18", 4, weights=f).head.weight, tv3.fc.weight)
    # frozen backbone: only the head learns
    mf = build_model("resnet18", 4, weights=f, freeze_backbone=True)
    assert {n.split(".")[0] for n, p in mf.named_parameters() if p.requires_grad} == {"head"}


def test_labelme_image_model_loads_vgg16_convolutions(tmp_path):
    torch.manual_seed(0)
    feats = tvm.vgg.make_layers(tvm.vgg.cfgs["D"], batch_norm=False)
    f = tmp_path / "vgg16.pth"
    torch.save({f"features.{k}": v for k, v in feats.state_dict().items()}
               | {"classifier.6.weight": torch.zeros(1000, 4096)}, f)
    m = build_model("labelme", 8, weights=f)
    assert torch.equal(m.backbone.vgg.features[0].weight, feats[0].weight)


def test_weights_errors(tmp_path):
    with pytest.raises(InputError, match="no such weights file.*nothing is downloaded"):
        build_model("mlp", 3, n_features=4, weights=tmp_path / "absent.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="cannot read the weights"):
        build_model("mlp", 3, n_features=4, weights=tmp_path / "junk.pt")
    torch.save(build_model("mlp", 3, n_features=5).state_dict(), tmp_path / "other.pt")
    with pytest.raises(InputError, match=r"'backbone.0.weight' has shape \(128, 5\) in the file but \(128, 4\)"):
        build_model("mlp", 3, n_features=4, weights=tmp_path / "other.pt")
    torch.save(build_model("mlp", 3, n_features=4, hidden=(128, 9)).state_dict(), tmp_path / "deeper.pt")
    with pytest.raises(InputError, match="do not fit the mlp model.*unexpected backbone.2"):
        load_weights(build_model("mlp", 3, n_features=4), tmp_path / "deeper.pt")


@pytest.mark.parametrize("kwargs, match", [
    (dict(name="resnet9", n_classes=3), "unknown model 'resnet9'"),
    (dict(name="mlp", n_classes=3), "needs n_features"),
    (dict(name="resnet18", n_classes=3, n_features=10), "image model"),
    (dict(name="mlp", n_classes=0, n_features=3), "n_classes must be an integer >= 1"),
    (dict(name="mlp", n_classes=2, n_features=3, dropout=1.0), "dropout"),
    (dict(name="mlp", n_classes=2, n_features=3, hidden=(0,)), "hidden size"),
    (dict(name="mlp", n_classes=2, n_features=3, small_images=True), "ResNets only"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(InputError, match=match):
        build_model(kwargs.pop("name"), kwargs.pop("n_classes"), **kwargs)


@pytest.mark.slow
def test_vgg16_bn_forward_and_torchvision_keys(tmp_path):
    m = build_model("vgg16_bn", 3, seed=0).eval()
    with torch.no_grad():
        assert m(torch.randn(1, 3, 32, 32)).shape == (1, 3)
    assert m.n_embed == 4096
    tv = tvm.vgg16_bn(weights=None, num_classes=3)
    torch.save(tv.state_dict(), tmp_path / "v.pth")
    assert torch.equal(load_weights(m, tmp_path / "v.pth").head.weight, tv.classifier[6].weight)
