"""The pure-MLP CIFAR model of the RepMLP paper (Ding et al. 2021, section 4.1) in PyTorch, the
peer of repmlp's RepMLPCifarNet (lib/models/repmlp-cifar.ts) for bench/model.ts, built from the
blocks of repmlp_resnet_torch.py. Three stages at maps of imgH x imgW, /2, /4: stage i is `fc`,
a 1x1 ConvBN + ReLU, then the mixing layer (`repmlp`: a RepMLP and a ReLU, or a k x k ConvBN +
ReLU for the Wide ConvNet and the repmlp-conv9 ablation); a 2x2 stride-2 max pooling follows
stages 1 and 2; then global average pooling and `linear`.
cfg: the fields of repmlp's RepMLPCifarConfig. The fc3-conv9 ablation (fc3 a 9x9 conv in the
training form) is not modelled here."""
import torch.nn as nn
import torch.nn.functional as F

from repmlp_resnet_torch import ConvBN, RepMLP, to_deploy  # noqa: F401 (to_deploy: the deploy conversion of this model too)

CONV9 = 9


def mixer_of(cfg):
    """('conv', k) or ('repmlp', global_perceptron, reparamConvK), as mixerOf in repmlp-cifar-config.ts."""
    ablation = cfg.get("ablation", "none")
    if cfg["variant"] == "wide-convnet":
        return ("conv", 3)
    if ablation == "repmlp-conv9":
        return ("conv", CONV9)
    if ablation == "no-local":
        return ("repmlp", None, [])
    if ablation == "no-global":
        return ("repmlp", False, cfg["reparamConvK"])
    if ablation == "fc3-conv9":
        raise ValueError("the fc3-conv9 ablation has no PyTorch peer")
    return ("repmlp", None, cfg["reparamConvK"])


class CifarStage(nn.Module):
    def __init__(self, cfg, i, cin):
        super().__init__()
        C, H, W = cfg["channels"][i], cfg["imgH"] >> i, cfg["imgW"] >> i
        m = mixer_of(cfg)
        self.fc = ConvBN(cin, C, 1, relu=True)
        self.conv = m[0] == "conv"
        if self.conv:
            self.repmlp = ConvBN(C, C, m[1], padding=m[1] // 2, relu=True)
        else:
            self.repmlp = RepMLP(C, C, H, W, cfg["h"], cfg["w"], m[2], cfg["fc1Fc2Reduction"], cfg["fc3Groups"], global_perceptron=m[1])

    def forward(self, x):
        y = self.repmlp(self.fc(x))
        return y if self.conv else F.relu(y)


class RepMLPCifarNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch = cfg["channels"]
        self.stages = nn.ModuleList([CifarStage(cfg, i, ch[i - 1] if i else cfg["inChannels"]) for i in range(3)])
        self.pool = nn.MaxPool2d(2)
        self.linear = nn.Linear(ch[2], cfg["numClasses"])

    def forward(self, x):
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i < 2:
                x = self.pool(x)
        return self.linear(x.mean((2, 3)))
