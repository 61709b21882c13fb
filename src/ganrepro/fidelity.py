"""Whose code a run follows where the papers' Lua code and the later PyTorch port differ.

The published pix2pix and CycleGAN tables were produced by the Lua code (phillipi/pix2pix, junyanz/CycleGAN);
the PyTorch port (junyanz/pytorch-CycleGAN-and-pix2pix) changed several details on the way.  The top-level
config key ``reference`` (``lua`` | ``pytorch``) chooses one side for every such detail at once, and
:class:`Fidelity` is the one place that says what each choice means, so a trainer, a dataset or the evaluation
asks it instead of testing ``config.reference`` itself.  docs/fidelity.md gives each setting's sources.

=========================  =============================================  ========================================
setting                    ``lua`` (Lua code behind the tables)           ``pytorch`` (the port)
=========================  =============================================  ========================================
schedule (pix2pix)         200 epochs at a constant 2e-4 (train.lua         100 constant + 100 linearly decaying
                           ``niter = 200``, nothing decays it)
schedule (CycleGAN)        100 constant + 100 decaying by lr/100 per        100 + 100, factor
                           epoch: the last epoch trains at lr/100           1 − max(0, k − 100)/101 (``epoch_end``)
conv biases                zeroed before every D and every G update         learned
resize to ``load_size``    ``image.scale`` bilinear: corners aligned,       PIL bicubic on uint8
                           on float, rows then columns, no quantisation
crop offsets               1 … load − crop (Lua draws ceil(U(0.01, 30)))    0 … load − crop
pix2pix G step             reuses D's output on the fake from the D step;   runs the updated D again
                           backward through D with the updated weights and
                           the D step's activations (``updateGradInput``)
D gradient                 of D_real + D_fake (the logged loss is halved)   of ½ (D_real + D_fake)
CycleGAN updates           G_A, D_A, G_B, D_B in turn, one Adam each        one joint G step, one joint D step
CycleGAN instance norm     affine (learned scale and shift)                 not affine
saved test images          saturate, ×255, truncate (``image.save``)        ×255, truncate (``tensor2im``)
=========================  =============================================  ========================================

Both reference codes truncate generated images to uint8; the targets and inputs written beside them are exact
uint8 values whichever is chosen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from ganrepro.config import Config

REFERENCES: tuple[str, ...] = ("lua", "pytorch")


@dataclass(frozen=True)
class Fidelity:
    """The concrete behaviours a ``reference`` stands for (see the module table)."""

    reference: str
    resize: Literal["lua_bilinear", "pil_bicubic"]
    crop_min: int  # smallest crop offset: 1 (Lua) or 0 (port)
    zero_conv_biases: bool  # before each D and each G update
    reuse_d_output: bool  # pix2pix G step through D's output from the D step
    d_loss_halved_gradient: bool  # D's gradient is of ½(real + fake) (port) or of the sum (Lua)
    alternating_updates: bool  # CycleGAN: G_A, D_A, G_B, D_B with one Adam each
    affine_instance_norm: bool  # CycleGAN networks' instance norm has a learned scale and shift
    quantise: Literal["truncate"] = "truncate"

    @classmethod
    def of(cls, config: Config) -> Fidelity:
        lua = config.reference == "lua"
        return cls(
            reference=config.reference,
            resize="lua_bilinear" if lua else "pil_bicubic",
            crop_min=1 if lua else 0,
            zero_conv_biases=lua,
            reuse_d_output=lua and config.model == "pix2pix",
            d_loss_halved_gradient=not lua,
            alternating_updates=lua and config.model == "cyclegan",
            affine_instance_norm=lua and config.model == "cyclegan",
        )


def default_schedule(model: str, reference: str) -> tuple[int, int, str]:
    """(n_epochs, n_epochs_decay, lr_step) of a reference's code for a model.

    pix2pix Lua (train.lua): ``niter = 200`` epochs, nothing changes the rate, so 200 + 0.  CycleGAN Lua
    (train.lua, ``UpdateLearningRate``): 100 + 100, subtracting lr/100 after every epoch past the 100th.  The
    port (``--n_epochs 100 --n_epochs_decay 100 --lr_policy linear``): 100 + 100; ``epoch_end`` is its original
    scheduler timing, kept as this project's default for the port.
    """
    if reference == "lua":
        return (200, 0, "lua") if model == "pix2pix" else (100, 100, "lua")
    return 100, 100, "epoch_end"


def resolve_schedule(config: Config) -> None:
    """Fill the schedule keys left null with the reference's values (recorded in the resolved config)."""
    t = config.train
    n_epochs, n_decay, lr_step = default_schedule(config.model, config.reference)
    if t.n_epochs is None:
        t.n_epochs = n_epochs
    if t.n_epochs_decay is None:
        t.n_epochs_decay = n_decay
    if t.lr_step is None:
        t.lr_step = lr_step  # type: ignore[assignment]
