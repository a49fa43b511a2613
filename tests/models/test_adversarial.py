import math

import pytest
import torch

from models.adversarial import DomainAdversarialLoss, DomainClassifier, dann_lambda, grad_reverse


def test_grad_reverse_is_identity_forward_and_negated_scaled_backward():
    x = torch.randn(3, 4, requires_grad=True)
    y = grad_reverse(x, 0.7)
    assert torch.equal(y, x)
    weights = torch.randn(3, 4)
    (y * weights).sum().backward()
    torch.testing.assert_close(x.grad, -0.7 * weights)


def test_dann_lambda_endpoints_and_shape():
    assert dann_lambda(0.0) == 0.0
    assert dann_lambda(1.0) == pytest.approx(2 / (1 + math.exp(-10)) - 1)
    assert dann_lambda(1.0) > 0.9999
    values = [dann_lambda(p / 10) for p in range(11)]
    assert values == sorted(values)
    assert dann_lambda(-1.0) == 0.0 and dann_lambda(2.0) == dann_lambda(1.0)


@pytest.mark.parametrize(("attach", "channels"), [("heatmaps", 14), ("features", 32)])
def test_domain_classifier_shapes(attach, channels):
    clf = DomainClassifier(channels, attach=attach)
    assert clf(torch.randn(6, channels, 16, 16)).shape == (6,)


def test_domain_loss_trains_the_classifier_and_reverses_into_the_features():
    torch.manual_seed(0)
    clf = DomainClassifier(4, attach="heatmaps")
    loss_fn = DomainAdversarialLoss(clf)
    source = torch.randn(8, 4, 16, 16) + 1.0
    target = torch.randn(8, 4, 16, 16) - 1.0
    opt = torch.optim.Adam(clf.parameters(), lr=1e-2)
    first = None
    for _ in range(30):
        loss = loss_fn(source, target, 1.0)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first and loss_fn.last_accuracy == 1.0
    # The gradient reaching the inputs is the reverse of the plain classifier gradient, scaled by λ.
    f_s = source.clone().requires_grad_(True)
    clf.eval()
    loss_fn(f_s, target, 0.5).backward()
    reversed_grad = f_s.grad.clone()
    f_s.grad = None
    torch.nn.functional.binary_cross_entropy_with_logits(
        clf(torch.cat([f_s, target])), torch.cat([torch.ones(8), torch.zeros(8)])
    ).backward()
    torch.testing.assert_close(reversed_grad, -0.5 * f_s.grad)
