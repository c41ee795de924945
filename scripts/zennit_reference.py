#!/usr/bin/env python3
"""Independent LRP references for relscope, computed the zennit 0.5 way.

This is a compact re-implementation, for cross-checking only, of the parts of zennit 0.5
(https://github.com/chr5tphr/zennit, Copyright (C) 2019-2021 Christopher J. Anders, GNU LGPL-3.0-or-later)
that relscope claims to reproduce: `core` (stabilize, ParamMod, Identity, Hook, BasicHook, collect_leaves,
Composite), `rules` (Epsilon, ZPlus, AlphaBeta, Gamma, ZBox, Flat, WSquare, Pass, Norm), `types`,
`composites` (layer_map_base, LayerMapComposite, SpecialFirstLayerMapComposite and the five named composites)
and `canonizers.SequentialMergeBatchNorm`. zennit itself cannot be installed here (no pip), so the classes
below follow its source (read at the 0.5 API: rules take `stabilizer`, generalised Gamma, ParamMod with
zero_params) and work like it: forward hooks on torch modules, an Identity autograd node whose backward hook
replaces the gradient by the rule's relevance, rules re-running the module with modified inputs/parameters.
Nothing here is taken from relscope's C++; the models are re-assembled from scripts/make_test_models.py's
modules (same parameters) with activations, pools and sums as modules, which is what zennit needs.

Two rules are not zennit's and are prepended to every composite's layer map (zennit's `layer_map=` argument),
because relscope applies them for these ops in every composite:
- nn.Softmax (dna_cnn's output): zennit's Norm hook, i.e. x * J^T(R / stab(s)) = AttnLRP's softmax rule
  x * (R - s * sum R) up to the stabiliser. (zennit's own composites leave softmax to the plain gradient.)
- an elementwise product of two activations (mlp): AttnLRP's uniform rule, R/2 to each factor.

usage: /usr/bin/python3 scripts/zennit_reference.py [--check]   (writes tests/data/relevance/)
       --check: only verify that the rebuilt models reproduce the committed inputs and outputs.
"""
import copy
import os
import sys
import weakref
from contextlib import contextmanager, nullcontext

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MODELS = os.path.join(ROOT, "tests", "data", "models")
OUT = os.path.join(ROOT, "tests", "data", "relevance")
sys.path.insert(0, HERE)
import make_test_models as mtm  # noqa: E402

ZENNIT_VERSION = "0.5.1"


# ---- core ---------------------------------------------------------------------------------------------------
def stabilize(x, epsilon=1e-6):
    """zennit.core.stabilize: x + eps * sign(x), with sign(0) = +1."""
    return x + ((x == 0.).to(x) + x.sign()) * epsilon


def expand(value, shape):
    t = value if isinstance(value, torch.Tensor) else torch.tensor(value)
    if t.ndim and t.ndim < len(shape):
        t = t[(...,) + (None,) * (len(shape) - t.ndim)]
    return t.expand(shape)


def zero_bias(zero_params=None):
    zero_params = [] if zero_params is None else [zero_params] if isinstance(zero_params, str) else list(zero_params)
    return zero_params if "bias" in zero_params else zero_params + ["bias"]


class ParamMod:
    """Temporarily replaces a module's parameters by modifier(param, name); names in zero_params become 0."""
    def __init__(self, modifier, param_keys=None, zero_params=None, require_params=True):
        self.modifier, self.param_keys = modifier, param_keys
        self.zero_params, self.require_params = zero_params or [], require_params

    @classmethod
    def ensure(cls, modifier):
        return modifier if isinstance(modifier, cls) else cls(modifier)

    @contextmanager
    def __call__(self, module):
        keys = self.param_keys
        if keys is None:
            keys = [name for name, _ in module.named_parameters(recurse=False)]
        missing = [key for key in keys if not hasattr(module, key)]
        if self.require_params and missing:
            raise RuntimeError(f"{module} lacks parameters {missing}")
        # The parameters are swapped for new tensors (as zennit does), not modified in
        # place: autograd keeps the tensors of each modified forward for the gradient taken after this context.
        originals = {}
        try:
            for key in keys:
                param = getattr(module, key, None)
                if param is None:
                    continue
                originals[key] = param
                value = torch.zeros_like(param.data) if key in self.zero_params else self.modifier(param.data, key)
                delattr(module, key)
                setattr(module, key, value)
            yield module
        finally:
            for key, param in originals.items():
                delattr(module, key)
                module.register_parameter(key, param)


def ClampMod(min=None, max=None, **kw):  # noqa: N802 (zennit's class names)
    return ParamMod(lambda p, _: p.clamp(min=min, max=max), **kw)


def GammaMod(gamma, min=None, max=None, **kw):  # noqa: N802
    return ParamMod(lambda p, _: p + gamma * p.clamp(min=min, max=max), **kw)


def NoMod(**kw):  # noqa: N802
    return ParamMod(lambda p, _: p, **kw)


def collect_leaves(module):
    children = list(module.children())
    if not children:
        yield module
    for child in children:
        yield from collect_leaves(child)


class Identity(torch.autograd.Function):
    """Gives the module inputs one shared grad_fn, to which the rule's backward hook is attached."""
    @staticmethod
    def forward(ctx, *inputs):
        return inputs

    @staticmethod
    def backward(ctx, *grad_outputs):
        return grad_outputs


class Hook:
    """zennit.core.Hook: pre-forward puts an Identity before the module and hooks its backward; post-forward
    hooks the output's grad_fn to store grad_output (the relevance arriving at the module's output)."""
    def __init__(self):
        self.stored_tensors, self.handles = {}, []

    def pre_forward(self, module, inputs):
        ref = weakref.ref(self)

        def wrapper(grad_input, grad_output):
            return ref().backward(module, grad_input, ref().stored_tensors["grad_output"])

        if not any(t.requires_grad for t in inputs):
            return None
        post = Identity.apply(*inputs)
        self.handles.append(post[0].grad_fn.register_hook(wrapper))
        return tuple(t.clone() for t in post)  # zennit's work-around for in-place operations

    def post_forward(self, module, inputs, output):
        ref = weakref.ref(self)
        if output.grad_fn is not None:
            self.handles.append(output.grad_fn.register_hook(
                lambda grad_input, grad_output: ref().pre_backward(module, grad_input, grad_output)))

    def pre_backward(self, module, grad_input, grad_output):
        self.stored_tensors["grad_output"] = grad_output

    def forward(self, module, inputs, output):
        pass

    def backward(self, module, grad_input, grad_output):
        return None

    def copy(self):
        return copy.copy(self).reset()

    def reset(self):
        self.stored_tensors, self.handles = {}, []
        return self

    def register(self, module):
        self.handles += [module.register_forward_pre_hook(self.pre_forward),
                         module.register_forward_hook(self.post_forward),
                         module.register_forward_hook(self.forward)]

    def remove(self):
        for h in self.handles:
            h.remove()
        self.reset()


class BasicHook(Hook):
    """zennit.core.BasicHook: for each (input modifier, param modifier, output modifier) re-run the module;
    the gradient mapper turns grad_output into one grad_output per run; the reducer combines inputs and the
    gradients of the runs into the relevance of the module input."""
    def __init__(self, input_modifiers, param_modifiers, output_modifiers, gradient_mapper, reducer):
        super().__init__()
        self.input_modifiers, self.param_modifiers, self.output_modifiers = input_modifiers, param_modifiers, output_modifiers
        self.gradient_mapper, self.reducer = gradient_mapper, reducer

    def forward(self, module, inputs, output):
        self.stored_tensors["input"] = inputs

    def backward(self, module, grad_input, grad_output):
        original = self.stored_tensors["input"][0].clone()
        inputs, outputs = [], []
        for in_mod, param_mod, out_mod in zip(self.input_modifiers, self.param_modifiers, self.output_modifiers):
            x = in_mod(original).requires_grad_()
            with ParamMod.ensure(param_mod)(module) as modified, torch.autograd.enable_grad():
                outputs.append(out_mod(modified.forward(x)))
            inputs.append(x)
        grad_outputs = self.gradient_mapper(grad_output[0], outputs)
        gradients = torch.autograd.grad(outputs, inputs, grad_outputs=grad_outputs)
        relevance = self.reducer(inputs, gradients)
        return tuple(relevance if g is not None and g.shape == relevance.shape else None for g in grad_input)


# ---- rules (zennit.rules, 0.5 signatures and defaults) --------------------------------------------------------
IDENT = lambda t: t  # noqa: E731
POS = lambda t: t.clamp(min=0)  # noqa: E731
NEG = lambda t: t.clamp(max=0)  # noqa: E731


def Epsilon(epsilon=1e-6, zero_params=None):  # noqa: N802
    return BasicHook([IDENT], [NoMod(zero_params=zero_params)], [IDENT],
                     lambda g, outs: g / stabilize(outs[0], epsilon), lambda xs, gs: xs[0] * gs[0])


def ZPlus(stabilizer=1e-6, zero_params=None):  # noqa: N802
    return BasicHook([POS, NEG], [ClampMod(min=0., zero_params=zero_params), ClampMod(max=0., zero_params=zero_bias(zero_params))],
                     [IDENT] * 2, lambda g, outs: [g / stabilize(sum(outs), stabilizer)] * 2,
                     lambda xs, gs: xs[0] * gs[0] + xs[1] * gs[1])


def AlphaBeta(alpha=2., beta=1., stabilizer=1e-6, zero_params=None):  # noqa: N802
    assert alpha >= 0 and beta >= 0 and alpha - beta == 1.
    return BasicHook(
        [POS, NEG, POS, NEG],
        [ClampMod(min=0., zero_params=zero_params), ClampMod(max=0., zero_params=zero_bias(zero_params)),
         ClampMod(max=0., zero_params=zero_params), ClampMod(min=0., zero_params=zero_bias(zero_params))],
        [IDENT] * 4,
        lambda g, outs: [g / stabilize(d, stabilizer) for d in [sum(outs[:2])] * 2 + [sum(outs[2:])] * 2],
        lambda xs, gs: alpha * (xs[0] * gs[0] + xs[1] * gs[1]) - beta * (xs[2] * gs[2] + xs[3] * gs[3]))


def Gamma(gamma=0.25, stabilizer=1e-6, zero_params=None):  # noqa: N802
    """Generalised Gamma (zennit >= 0.5): outputs with z > 0 use (x+, w+gw+, b+gb+) + (x-, w+gw-, no bias),
    outputs with z < 0 use (x+, w+gw-, b+gb-) + (x-, w+gw+, no bias); the 5th run is the plain layer (z)."""
    return BasicHook(
        [POS, NEG, POS, NEG, IDENT],
        [GammaMod(gamma, min=0., zero_params=zero_params), GammaMod(gamma, max=0., zero_params=zero_bias(zero_params)),
         GammaMod(gamma, max=0., zero_params=zero_params), GammaMod(gamma, min=0., zero_params=zero_bias(zero_params)),
         NoMod()],
        [IDENT] * 5,
        lambda g, outs: [mask * g / stabilize(d, stabilizer)
                         for mask, d in [(outs[4] > 0., sum(outs[:2]))] * 2 + [(outs[4] < 0., sum(outs[2:4]))] * 2]
        + [torch.zeros_like(g)],
        lambda xs, gs: sum(x * g for x, g in zip(xs[:4], gs[:4])))


def ZBox(low, high, stabilizer=1e-6, zero_params=None):  # noqa: N802
    def sub(first, *rest):
        return first - sum(rest)
    return BasicHook(
        [IDENT, lambda x: expand(low, x.shape).to(x), lambda x: expand(high, x.shape).to(x)],
        [NoMod(zero_params=zero_params), ClampMod(min=0., zero_params=zero_params), ClampMod(max=0., zero_params=zero_params)],
        [IDENT] * 3,
        lambda g, outs: (g / stabilize(sub(*outs), stabilizer),) * 3,
        lambda xs, gs: sub(*(x * g for x, g in zip(xs, gs))))


def Flat(stabilizer=1e-6, zero_params=None):  # noqa: N802
    return BasicHook([torch.ones_like], [ParamMod(lambda p, _: torch.ones_like(p), zero_params=zero_bias(zero_params), require_params=False)],
                     [IDENT], lambda g, outs: g / stabilize(outs[0], stabilizer), lambda xs, gs: gs[0])


def WSquare(stabilizer=1e-6, zero_params=None):  # noqa: N802
    return BasicHook([torch.ones_like], [ParamMod(lambda p, _: p ** 2, zero_params=zero_params)],
                     [IDENT], lambda g, outs: g / stabilize(outs[0], stabilizer), lambda xs, gs: gs[0])


def Norm(stabilizer=1e-6):  # noqa: N802
    return BasicHook([IDENT], [NoMod(param_keys=[])], [IDENT],
                     lambda g, outs: g / stabilize(outs[0], stabilizer), lambda xs, gs: xs[0] * gs[0])


class Pass(Hook):
    def backward(self, module, grad_input, grad_output):
        return grad_output


class UniformProduct(Hook):
    """Not zennit: AttnLRP's rule for an elementwise product of n activations, R/n to each factor (summed over
    broadcast copies)."""
    def backward(self, module, grad_input, grad_output):
        share = grad_output[0] / len(grad_input)
        return tuple(None if g is None else share.sum_to_size(g.shape) for g in grad_input)


# ---- types, composites, canonizer ------------------------------------------------------------------------------
class Sum(nn.Module):
    """zennit.layer.Sum (with a dim/keepdim): the module form of a sum, so that Norm applies to it."""
    def __init__(self, dim=-1, keepdim=False):
        super().__init__()
        self.dim, self.keepdim = dim, keepdim

    def forward(self, x):
        return x.sum(dim=self.dim, keepdim=self.keepdim)


class Product(nn.Module):
    def forward(self, a, b):
        return a * b


Convolution = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
Linear = Convolution + (nn.Linear,)
BatchNorm = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
AvgPool = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)
Activation = (nn.ELU, nn.Hardshrink, nn.Hardsigmoid, nn.Hardtanh, nn.Hardswish, nn.LeakyReLU, nn.LogSigmoid, nn.PReLU,
              nn.ReLU, nn.ReLU6, nn.RReLU, nn.SELU, nn.CELU, nn.GELU, nn.Sigmoid, nn.SiLU, nn.Softplus, nn.Softshrink,
              nn.Softsign, nn.Tanh, nn.Tanhshrink, nn.Threshold)


def layer_map_base(stabilizer=1e-6):
    return [(Activation, Pass()), (Sum, Norm(stabilizer)), (AvgPool, Norm(stabilizer)), (BatchNorm, Pass())]


class SequentialMergeBatchNorm:
    """Merges every BatchNorm that directly follows a Linear/Conv leaf (in module order) into it and turns the
    BatchNorm into the identity."""
    def apply(self, root):
        last = None
        for leaf in collect_leaves(root):
            if isinstance(last, Linear) and isinstance(leaf, BatchNorm) and last.weight.shape[0] == leaf.weight.shape[0]:
                self.merge(last, leaf)
            last = leaf

    @staticmethod
    def merge(module, bn):
        scale = bn.weight.data / (bn.running_var + bn.eps) ** .5
        if module.bias is None:
            module.bias = nn.Parameter(torch.zeros(1, dtype=module.weight.dtype))
        index = (slice(None),) + (None,) * (module.weight.ndim - 1)
        module.weight.data = module.weight.data * scale[index]
        module.bias.data = (module.bias.data - bn.running_mean) * scale + bn.bias.data
        bn.running_mean.zero_()
        bn.running_var.fill_(1.)
        bn.bias.data.zero_()
        bn.weight.data.fill_(1.)
        bn.eps = 0.


class LayerMapComposite:
    def __init__(self, layer_map, first_map=None, canonizers=(SequentialMergeBatchNorm(),)):
        self.layer_map, self.first_map, self.canonizers = layer_map, first_map or [], canonizers
        self.hooks = []

    def mapping(self, ctx, name, module):
        if not ctx.get("first_layer_visited", False):
            for types, hook in self.first_map:
                if isinstance(module, types):
                    ctx["first_layer_visited"] = True
                    return hook
        return next((hook for types, hook in self.layer_map if isinstance(module, types)), None)

    @contextmanager
    def context(self, module):
        for canonizer in self.canonizers:
            canonizer.apply(module)
        ctx = {}
        for name, child in module.named_modules():
            template = self.mapping(ctx, name, child)
            if template is not None:
                hook = template.copy()
                hook.register(child)
                self.hooks.append(hook)
        try:
            yield module
        finally:
            for hook in self.hooks:
                hook.remove()
            self.hooks = []


# zennit's names; "epsilon" is not a zennit composite: Epsilon for every Linear/Conv, the same base map.
def composite(name, low=None, high=None, epsilon=1e-6, gamma=0.25, stabilizer=1e-6, layer_map=()):
    base = list(layer_map) + layer_map_base(stabilizer)
    dense = (nn.Linear, Epsilon(epsilon))
    if name == "epsilon":
        return LayerMapComposite(base + [(Convolution, Epsilon(epsilon)), dense])
    if name == "epsilon-plus":
        return LayerMapComposite(base + [(Convolution, ZPlus(stabilizer)), dense])
    if name == "epsilon-alpha2-beta1":
        return LayerMapComposite(base + [(Convolution, AlphaBeta(2, 1, stabilizer)), dense])
    if name == "epsilon-plus-flat":
        return LayerMapComposite(base + [(Convolution, ZPlus(stabilizer)), dense], [(Linear, Flat(stabilizer))])
    if name == "epsilon-alpha2-beta1-flat":
        return LayerMapComposite(base + [(Convolution, AlphaBeta(2, 1, stabilizer)), dense], [(Linear, Flat(stabilizer))])
    if name == "epsilon-gamma-box":
        return LayerMapComposite(base + [(Convolution, Gamma(gamma, stabilizer)), dense],
                                 [(Convolution, ZBox(low, high, stabilizer))])
    raise ValueError(name)


# ---- the fixture models, re-assembled with module activations (parameters shared with make_test_models) -------
class MlpZ(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.fc1, self.relu, self.bn, self.fc2, self.tanh = m.fc1, nn.ReLU(), m.bn, m.fc2, nn.Tanh()
        self.sum, self.sigmoid, self.product, self.fc3 = Sum(1, keepdim=True), nn.Sigmoid(), Product(), m.fc3

    def forward(self, x):
        h = self.bn(self.relu(self.fc1(x)))
        return self.fc3(self.product(self.tanh(self.fc2(h)), self.sigmoid(self.sum(x))))


class CnnZ(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.c1, self.b1, self.r1, self.p1 = m.c1, m.b1, nn.ReLU(), nn.MaxPool2d(2)
        self.c2, self.r2, self.c3, self.r3 = m.c2, nn.LeakyReLU(0.1), m.c3, nn.ReLU()
        self.p3, self.fc = nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False), m.fc

    def forward(self, x):
        x = self.p1(self.r1(self.b1(self.c1(x))))
        x = self.p3(self.r3(self.c3(self.r2(self.c2(x)))))
        return self.fc(x.view(x.size(0), -1))


class BlockZ(nn.Module):  # as zennit's ResNetBasicBlockCanonizer: the residual add as a Sum module
    def __init__(self, b):
        super().__init__()
        self.c1, self.b1, self.r1, self.c2, self.b2, self.down = b.c1, b.b1, nn.ReLU(), b.c2, b.b2, b.down
        self.sum, self.r2 = Sum(), nn.ReLU()

    def forward(self, x):
        y = self.b2(self.c2(self.r1(self.b1(self.c1(x)))))
        return self.r2(self.sum(torch.stack([y, x if self.down is None else self.down(x)], dim=-1)))


class ResNetTinyZ(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.stem, self.l1, self.l2, self.dw = m.stem, BlockZ(m.l1), BlockZ(m.l2), m.dw
        self.relu6, self.pool, self.fc = nn.ReLU6(), nn.AdaptiveAvgPool2d(1), m.fc

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.relu6(self.dw(self.l2(self.l1(self.stem(x)))))), 1))


class DnaCnnZ(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.c1, self.r1, self.p1, self.c2, self.r2 = m.c1, nn.ReLU(), nn.MaxPool1d(2), m.c2, nn.ReLU()
        self.fc, self.softmax = m.fc, nn.Softmax(dim=1)

    def forward(self, x):
        return self.softmax(self.fc(torch.amax(self.r2(self.c2(self.p1(self.r1(self.c1(x))))), dim=2)))


ZENNIT_READY = {mtm.Mlp: MlpZ, mtm.Cnn: CnnZ, mtm.ResNetTiny: ResNetTinyZ, mtm.DnaCnn: DnaCnnZ,
                mtm.TwoHeads: lambda m: m, mtm.ConvBn: lambda m: m}
EXTRA_RULES = {"mlp_opset13": [(Product, UniformProduct())], "dna_cnn_opset13": [(nn.Softmax, Norm())]}
MODELS_TO_CHECK = ["mlp_opset13", "cnn_opset13", "resnet_tiny_opset13", "conv_bn_opset13", "two_heads_opset13",
                   "dna_cnn_opset13"]
COMPOSITES = ["epsilon", "epsilon-plus", "epsilon-plus-flat", "epsilon-alpha2-beta1", "epsilon-alpha2-beta1-flat",
              "epsilon-gamma-box"]


def rebuild(name):
    """make_test_models.main()'s construction, step by step: same seed, BatchNorm statistics, eval mode, input."""
    _, cls, shape, _, _ = next(case for case in mtm.CASES if case[0] == name)
    torch.manual_seed(7)
    m = cls()
    for mod in m.modules():
        if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.2, 0.2)
    m.eval()
    x = torch.randn(*shape)
    return m, x


def outputs_of(y):
    return list(y) if isinstance(y, tuple) else [y]


def check(name):
    m, x = rebuild(name)
    x_ref = np.load(os.path.join(MODELS, name + "_input.npy"))
    worst = float(np.abs(x.numpy() - x_ref).max())
    with torch.no_grad():
        ys, zs = outputs_of(m(x)), outputs_of(ZENNIT_READY[type(m)](m)(torch.from_numpy(x_ref)))
    for k, (y, z) in enumerate(zip(ys, zs)):
        y_ref = np.load(os.path.join(MODELS, name + ("_output.npy" if k == 0 else f"_output{k}.npy")))
        worst = max(worst, float(np.abs(y.numpy() - y_ref).max()), float(np.abs(z.numpy() - y_ref).max()))
    if worst > 1e-6:
        raise SystemExit(f"{name}: the rebuilt model differs from the committed fixture by {worst:g}")
    return worst


def attribute(model, x, output, lrp, comp=None):
    """Relevance of x for output `output`, target = arg-max per sample; seed onehot * output (LRP) or onehot."""
    model = copy.deepcopy(model)  # the canonizer changes parameters
    x = x.clone().requires_grad_()
    ctx = comp.context(model) if comp is not None else nullcontext(model)
    with ctx:
        y = outputs_of(model(x))[output]
        onehot = torch.nn.functional.one_hot(y.argmax(1), y.shape[1]).to(y)
        grad, = torch.autograd.grad(y, x, grad_outputs=onehot * y.detach() if lrp else onehot)
    return grad.detach()


# Non-default parameters, on top of every composite with defaults: zennit's `epsilon` only changes the Epsilon rule
# (dense layers; every layer in "epsilon"), the other rules and Norm keep their stabilizer 1e-6.
PARAM_CASES = [("mlp_opset13", "epsilon", {"epsilon": 0.25}),
               ("cnn_opset13", "epsilon-plus", {"epsilon": 0.25}),
               ("conv_bn_opset13", "epsilon-alpha2-beta1-flat", {"epsilon": 0.25}),
               ("resnet_tiny_opset13", "epsilon-gamma-box", {"epsilon": 0.25, "gamma": 0.5})]
TOL_WELL, TOL_ILL = 1e-4, 1e-3  # see tests/cli/zennit_reference_test.sh


def relevance(m, zm, name, x, output, method, params, lo, hi):
    if method.startswith("gradient"):
        r = attribute(m, x, output, lrp=False)
        return r * x if method == "gradient-x-input" else r
    comp = composite(method, low=lo, high=hi, layer_map=EXTRA_RULES.get(name, []), **params)
    return attribute(zm, x, output, lrp=True, comp=comp)


def main():
    if "--check" in sys.argv:
        for name in MODELS_TO_CHECK:
            print(f"{name}: rebuilt model matches the fixture (max |diff| {check(name):.2g})")
        return
    os.makedirs(OUT, exist_ok=True)
    manifest, rows = [], []
    for name in MODELS_TO_CHECK:
        check(name)
        m, _ = rebuild(name)
        x = torch.from_numpy(np.load(os.path.join(MODELS, name + "_input.npy")))
        zm = ZENNIT_READY[type(m)](m)
        m64, zm64 = copy.deepcopy((m, zm))
        m64.double()  # zm64 shares its parameters
        zm64.double()
        has_conv = any(isinstance(mod, Convolution) for mod in zm.modules())
        lo, hi = float(x.min()), float(x.max())  # float32 values, printed exactly with repr()
        for output in range(len(outputs_of(m(x)))):
            tag = name + ("" if output == 0 else f"_out{output}")
            cases = [(c, {}) for c in COMPOSITES if c != "epsilon-gamma-box" or has_conv]
            cases += [(c, p) for n, c, p in PARAM_CASES if n == name and output == 0]
            cases += [("gradient", {}), ("gradient-x-input", {})]
            for method, params in cases:
                flags = ([] if output == 0 else ["--output", str(output)])
                flags += ["--method", "lrp", "--composite", method] if not method.startswith("gradient") else ["--method", method]
                flags += ["--low", repr(lo), "--high", repr(hi)] if method == "epsilon-gamma-box" else []
                for key, value in params.items():
                    flags += ["--" + key, repr(value)]
                r = relevance(m, zm, name, x, output, method, params, lo, hi).numpy().astype(np.float32)
                r64 = relevance(m64, zm64, name, x.double(), output, method, params, lo, hi).numpy()
                assert np.isfinite(r).all() and r.shape == tuple(x.shape)
                # Conditioning: how far float32 rounding alone moves this reference (vs. the same in float64).
                sens = float(np.abs(r - r64).max() / np.abs(r64).max())
                tol = TOL_WELL if sens < 1e-5 else TOL_ILL
                suffix = "".join(f"_{k}{v:g}" for k, v in params.items())
                fname = f"{tag}__{method}{suffix}.npy"
                np.save(os.path.join(OUT, fname), r)
                manifest.append("\t".join([fname, name + ".onnx", name + "_input.npy", f"{tol:g}"] + flags))
                rows.append((fname, " ".join(flags), float(np.abs(r).max()), float(r.reshape(r.shape[0], -1).sum(1).mean()), sens, tol))
                print(f"{fname}: max|R| {rows[-1][2]:.4g}, float32 vs float64 {sens:.1e}")
    with open(os.path.join(OUT, "cases.tsv"), "w") as f:
        f.write("# reference\tmodel\tinput\ttolerance\trelscope explain flags...  (written by scripts/zennit_reference.py)\n")
        f.write("\n".join(manifest) + "\n")
    write_readme(rows)


def write_readme(rows):
    lines = [
        "# Relevance references (zennit-faithful, made without zennit)",
        "",
        "Made by `/usr/bin/python3 scripts/zennit_reference.py` with Debian's python3-torch "
        f"{torch.__version__} and numpy {np.__version__}: a compact re-implementation of zennit {ZENNIT_VERSION}'s hooks, rules,",
        "composites and SequentialMergeBatchNorm canonizer (see the script's header; zennit is LGPL-3.0, by Christopher J. Anders),",
        "applied to the fixture models of `scripts/make_test_models.py` rebuilt with identical weights (checked against",
        "`tests/data/models/*_output.npy` to 1e-6) and re-assembled with module activations/pools/sums as zennit requires.",
        "",
        "Each file is the relevance of the committed input `tests/data/models/<model>_input.npy` (float32, input shape):",
        "target = arg-max per sample, LRP seeded with onehot(target) * output, gradients with onehot(target).",
        "Defaults as zennit's: epsilon 1e-6 (Epsilon rule), stabilizer 1e-6 (every other rule and Norm), gamma 0.25,",
        "alpha 2 / beta 1; epsilon-gamma-box uses low/high = min/max of the input. A `_epsilon0.25` (etc.) suffix marks",
        "non-default composite arguments. `epsilon` is not a zennit composite: Epsilon on every Linear/Conv with zennit's",
        "base layer map. Not zennit: dna_cnn's output Softmax gets AttnLRP's softmax rule (zennit's Norm hook on",
        "nn.Softmax) and the mlp's product of two activations the AttnLRP uniform rule, R/2 per factor, as relscope does",
        "in every composite.",
        "",
        "`cases.tsv` lists per file the tolerance and the relscope flags; `tests/cli/zennit_reference_test.sh` runs them",
        "and requires max|R - R_ref| / max|R_ref| <= tolerance. \"f32 vs f64\" is that ratio between this reference and",
        f"the same computation in float64: where float32 rounding alone moves the result by 1e-5 or more (alpha-beta on",
        f"resnet_tiny: near-zero stabilised denominators) the tolerance is {TOL_ILL:g} (the contract), else {TOL_WELL:g}.",
        "",
        "| file | relscope explain flags | max abs R | mean sum R | f32 vs f64 | tolerance |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {f} | `{flags}` | {mx:.4g} | {sm:.4g} | {sens:.1e} | {tol:g} |" for f, flags, mx, sm, sens, tol in rows]
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
