"""Portfolio margin: the worst loss of the whole book over a scenario set, plus add-ons.

Per bar: ``signed = qty * mark`` ``[S, N]``, one product with the scenario matrix (``scenarios.py``),
worst loss per group, then the preset's add-ons per underlying ("unit"):

    unit_u = price_u + basis_u + contingency_rate x gross_u + calendar_rate x min(long_u, short_u)
    unit_u = max(unit_u, MR7(charge_rate x gross_u))          (OKX minimum charge, marginal multipliers)
    loss = sum_u unit_u                                        per_underlying (venue-faithful default)
    loss = sum_u unit_u - credit                               span (CME inter-commodity credit)
    loss = max(joint + sum_u (unit_u - price_u), sum_u MR7_u)   correlated (joint shocks on an ellipse)

``basis_u`` is either a scenario group (dated futures move against the perpetual: OKX MR4) or, for
``basis.shock = "gross"``, Deribit's roll shock ``sum_n max(annualised_move x tau_n, min_move) x |signed_n|``
over every instrument of the underlying, perpetuals included (at ``min_move``).

Each preset version anchors the requirements on ``loss`` as its venue does (``anchor``):
``"im"`` (Deribit: IM = worst loss + add-ons, MM = ``mm_factor`` x IM) or ``"mm"`` (OKX, Bybit, CME:
MM = worst loss + add-ons, IM = ``im_factor`` x MM). Presets (``datasets/margin/portfolio_*.json``) cite
their venue sources. The regime holds parameters only; liquidation decisions live with the engine and
``reduction.py``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
from pmsim.simulator.errors import ConfigError, RegimeError
from pmsim.simulator.margin.base import INSTANTS_KEPT, Requirements
from pmsim.simulator.margin.covariance import EwmaCovariance, FixedCovariance, matrix_root, with_correlation
from pmsim.simulator.margin.presets import Preset
from pmsim.simulator.margin.reduction import ProRataReduction
from pmsim.simulator.margin.scenarios import (
    ScenarioSet,
    basis_block,
    basis_size,
    ellipse_shocks,
    expiry_ms,
    held_columns,
    held_rows,
    joint_block,
    membership,
    price_block,
    roll_shock,
    years_left,
)
from pmsim.simulator.margin.span import intercommodity_credit
from pmsim.simulator.market.instruments import Instrument
from pmsim.simulator.numeric import rows_at, zero_nan

CROSS_UNDERLYING = ("per_underlying", "correlated", "span")
# the requirement that IS the scenario loss -> the key of the factor that derives the other from it
ANCHORS = {"im": "mm_factor", "mm": "im_factor"}
BASIS_SHOCKS = ("scenario", "gross")
# allocator rules, budgets and the stress scan often ask again for the very books just priced
RESULTS_KEPT = 8
# books x instruments below which taking the held columns costs more than the smaller products save
HELD_MIN_ENTRIES = 2048


def _anchor(raw: dict[str, Any]) -> tuple[str, float]:
    """``(anchor, factor)`` of a preset version; exactly the anchor's own factor must be given."""
    anchor = raw["anchor"]
    if anchor not in ANCHORS:
        raise ValueError(f"anchor must be 'im' or 'mm', not {anchor!r}")
    wrong = ANCHORS["mm" if anchor == "im" else "im"]
    if wrong in raw:
        raise ValueError(
            f"anchor {anchor!r} derives the other requirement with {ANCHORS[anchor]}, not {wrong}"
        )
    factor = float(raw[ANCHORS[anchor]])
    if not (0 < factor <= 1 if anchor == "im" else factor >= 1):
        raise ValueError(f"{ANCHORS[anchor]} {factor} is out of range (mm_factor in (0, 1], im_factor >= 1)")
    return anchor, factor


@dataclass(frozen=True, slots=True)
class PmParams:
    """One preset version. Moves are relative (0.16 = +16 %); weights scale a scenario's loss.

    ``anchor`` names the requirement that is the scenario loss; ``factor`` derives the other one from
    it (``mm_factor`` for anchor ``im``, ``im_factor`` for anchor ``mm``). ``gross_basis``: the basis
    term is Deribit's roll shock add-on rather than a scenario group.
    """

    price_moves: np.ndarray
    price_weights: np.ndarray
    annualised_move: float = 0.0
    min_move: float = 0.0
    contingency_rate: float = 0.0
    calendar_rate: float = 0.0
    charge_rate: float = 0.0
    charge_floors: np.ndarray = field(default_factory=lambda: np.zeros(1))
    charge_multipliers: np.ndarray = field(default_factory=lambda: np.ones(1))
    gross_basis: bool = False
    anchor: str = "mm"
    factor: float = 1.0
    charge_widths: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        widths = np.diff(np.append(self.charge_floors, np.inf))  # once: MR7 runs in every requirements call
        object.__setattr__(self, "charge_widths", widths)

    def anchored(self, loss: np.ndarray) -> Requirements:
        """IM and MM from the scenario loss: the anchored one is the loss, the other ``factor`` x it."""
        other = loss * self.factor
        return Requirements(im=loss, mm=other) if self.anchor == "im" else Requirements(im=other, mm=loss)

    @classmethod
    def from_json(cls, raw: dict[str, Any], where: str) -> PmParams:
        try:
            basis = raw.get("basis") or {}
            charge = raw.get("minimum_charge") or {}
            anchor, factor = _anchor(raw)
            if basis.get("shock", "scenario") not in BASIS_SHOCKS:
                raise ValueError(f"basis.shock must be 'scenario' or 'gross', not {basis['shock']!r}")
            params = cls(
                price_moves=np.array(raw["price_moves"], float),
                price_weights=np.array(raw["price_weights"], float),
                annualised_move=float(basis.get("annualised_move", 0.0)),
                min_move=float(basis.get("min_move", 0.0)),
                contingency_rate=float(raw.get("contingency_rate", 0.0)),
                calendar_rate=float(raw.get("calendar_rate", 0.0)),
                charge_rate=float(charge.get("rate", 0.0)),
                charge_floors=np.array(charge.get("floors", [0.0]), float),
                charge_multipliers=np.array(charge.get("multipliers", [1.0]), float),
                gross_basis=basis.get("shock") == "gross",
                anchor=anchor,
                factor=factor,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RegimeError(f"{where}: bad portfolio preset version ({exc!r})") from exc
        if params.price_moves.shape != params.price_weights.shape or not np.all(
            (params.price_weights > 0) & (params.price_weights <= 1)
        ):
            raise RegimeError(f"{where}: price_moves and price_weights need equal lengths, weights in (0, 1]")
        if params.charge_floors[0] != 0 or np.any(np.diff(params.charge_floors) <= 0):
            raise RegimeError(f"{where}: charge floors must ascend from 0")
        return params

    @property
    def symmetric(self) -> bool:
        """True when the grid is the same seen from a long and from a short."""
        pairs = sorted(zip(self.price_moves, self.price_weights, strict=True))
        mirror = sorted(zip(-self.price_moves, self.price_weights, strict=True))
        return bool(np.allclose(pairs, mirror))

    def minimum_charge(self, gross: np.ndarray) -> np.ndarray:
        """OKX MR7: ``charge_rate x gross`` scaled by marginal multipliers (tax-bracket style)."""
        raw = self.charge_rate * gross
        return rows_at(
            np.clip(raw[..., None] - self.charge_floors, 0.0, self.charge_widths),
            self.charge_multipliers[:, None],
        )[..., 0]


@dataclass(frozen=True, slots=True)
class _Instant:
    """What the regime needs at one instant, built once however often that instant is asked.

    ``roll``: each instrument's roll shock size (``basis_size``) where the basis is Deribit's add-on.
    """

    params: PmParams
    scenarios: ScenarioSet
    roll: np.ndarray | None


@dataclass(eq=False)
class PortfolioRegime(ProRataReduction):
    """Scenario-based portfolio margin (see the module docstring for the formula).

    Parameters
    ----------
    instruments : the N instruments (their underlying and expiry shape the scenarios).
    preset : cited parameter versions (``load_preset("portfolio", name)``).
    cross_underlying : ``per_underlying`` | ``correlated`` | ``span``.
    credit_rate : inter-commodity credit rate, required by ``span`` (none was sourced for BTC/ETH).
    covariance : daily covariance source for ``correlated`` (default: the fixed BTC/ETH file).
    confidence, horizon_days : ellipse radius ``z(confidence)`` on the ``horizon_days`` covariance.
    corr : stress overlay forcing every correlation to this value (``correlated``; in ``span`` a
        value <= 0 removes the credit; ``per_underlying`` grants no offsets, so it changes nothing).
    """

    instruments: tuple[Instrument, ...]
    preset: Preset
    cross_underlying: str = "per_underlying"
    credit_rate: float | None = None
    covariance: FixedCovariance | EwmaCovariance | None = None
    confidence: float = 0.99
    horizon_days: float = 1.0
    corr: float | None = None
    name: str = "portfolio"

    def __post_init__(self) -> None:
        if self.cross_underlying not in CROSS_UNDERLYING:
            raise ConfigError.unknown("regime.cross_underlying", self.cross_underlying, CROSS_UNDERLYING)
        if self.cross_underlying == "span" and self.credit_rate is None:
            raise ConfigError(
                "regime.credit_rate is required for cross_underlying='span' "
                "(the BTC/ETH inter-commodity credit rate; CME publishes it in its SPAN files)"
            )
        if self.credit_rate is not None and not 0 <= self.credit_rate <= 1:
            raise ConfigError(f"regime.credit_rate must be in [0, 1], got {self.credit_rate}")
        if not 0.5 < self.confidence < 1 or not self.horizon_days > 0:
            raise ConfigError("regime.confidence must be in (0.5, 1) and regime.horizon_days positive")
        if self.cross_underlying == "correlated" and self.covariance is None:
            self.covariance = FixedCovariance.load()
        self.underlyings_, self.member_ = membership(self.instruments)
        self.dated_ = np.array([i.is_dated for i in self.instruments], dtype=bool)
        self.expiry_ = expiry_ms(self.instruments)
        self.instants_: dict[np.datetime64, _Instant] = {}
        self.recent_: deque[tuple[tuple[object, ...], Requirements]] = deque(maxlen=RESULTS_KEPT)
        self.params_ = tuple(
            PmParams.from_json(v, f"{self.preset.path} version {v.get('valid_from')}")
            for v in self.preset.versions
        )
        self.radius_ = NormalDist().inv_cdf(self.confidence)

    @property
    def symmetric(self) -> bool:
        return self.cross_underlying == "correlated" or all(p.symmetric for p in self.params_)

    def params_at(self, when: np.datetime64) -> PmParams:
        return self._at(when).params

    def scenarios(self, when: np.datetime64) -> ScenarioSet:
        """The scenario set in force at ``when`` (basis shocks shrink as expiries approach)."""
        return self._at(when).scenarios

    def _at(self, when: np.datetime64) -> _Instant:
        key = np.datetime64(when, "ms")
        instant = self.instants_.get(key)
        if instant is None:
            if len(self.instants_) >= INSTANTS_KEPT:
                self.instants_.clear()
            instant = self.instants_[key] = self._instant(key)
        return instant

    def _instant(self, when: np.datetime64) -> _Instant:
        p = self.params_[self.preset.version_at(when)]
        if self.cross_underlying == "correlated":
            assert self.covariance is not None
            cov = self.covariance.at(when, self.underlyings_) * self.horizon_days
            if self.corr is not None:
                cov = with_correlation(cov, self.corr)
            price = joint_block(ellipse_shocks(matrix_root(cov), self.radius_), self.member_)
        else:
            price = price_block(p.price_moves, p.price_weights, self.member_)
        tau = years_left(self.expiry_, self.dated_, when)
        if p.gross_basis:  # the roll shock is an add-on (``price_and_basis``), not a scenario
            empty = np.zeros((len(self.instruments), 0, 3))
            return _Instant(p, ScenarioSet(price, empty), basis_size(tau, p.annualised_move, p.min_move))
        basis = basis_block(tau, self.dated_, self.member_, p.annualised_move, p.min_move)
        return _Instant(p, ScenarioSet(price, basis), None)

    def price_and_basis(self, signed: np.ndarray, when: np.datetime64) -> tuple[np.ndarray, np.ndarray]:
        """Worst price loss per group ``[S, Gp]`` and the basis term ``[S, U]`` (scenario or roll shock)."""
        return self._price_and_basis(signed, self._at(when), None)

    def _price_and_basis(
        self, signed: np.ndarray, instant: _Instant, held: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``price_and_basis`` where ``signed`` has only the ``held`` instruments' columns (None: all)."""
        price, basis = instant.scenarios.worst(signed, held)
        if instant.roll is not None:
            basis = roll_shock(signed, held_rows(instant.roll, held), held_rows(self.member_, held))
        return price, basis

    def scenario_loss(self, qty: np.ndarray, mark: np.ndarray, when: np.datetime64) -> np.ndarray:
        """``[S]`` the worst-loss part alone (price and basis terms, no add-ons or credits): subadditive."""
        price, basis = self.price_and_basis(qty * zero_nan(mark), when)
        return price.sum(axis=-1) + basis.sum(axis=-1)

    def requirements(self, qty: np.ndarray, mark: np.ndarray, when: np.datetime64) -> Requirements:
        """IM and MM of S books; the same books at the same marks and instant again get the same result."""
        qty, mark, when = np.asarray(qty), np.asarray(mark), np.datetime64(when, "ms")
        key = (when, qty.dtype.str, qty.shape, mark.dtype.str, mark.shape, qty.tobytes(), mark.tobytes())
        for seen, req in self.recent_:
            if seen == key:
                return req
        req = self._requirements(qty, mark, self._at(when))
        for array in (req.im, req.mm):
            array.flags.writeable = False  # shared by every caller that asks for these books again
        self.recent_.append((key, req))
        return req

    def _requirements(self, qty: np.ndarray, mark: np.ndarray, instant: _Instant) -> Requirements:
        p = instant.params
        signed = qty * zero_nan(mark)
        # instruments no book holds add nothing to any sum below
        held = held_columns(signed) if signed.size >= HELD_MIN_ENTRIES else None
        if held is not None:
            signed = signed[..., held]
        member = held_rows(self.member_, held)
        price, basis = self._price_and_basis(signed, instant, held)
        long, short = (
            rows_at(np.maximum(signed, 0.0), member),
            rows_at(np.maximum(-signed, 0.0), member),
        )
        gross = long + short
        addons = basis + p.contingency_rate * gross + p.calendar_rate * np.minimum(long, short)
        floor = p.minimum_charge(gross)
        if self.cross_underlying == "correlated":
            loss = np.maximum(price[..., 0] + addons.sum(axis=-1), floor.sum(axis=-1))
        else:
            loss = np.maximum(price + addons, floor).sum(axis=-1)
            if self.cross_underlying == "span" and (self.corr is None or self.corr > 0):
                assert self.credit_rate is not None
                loss = loss - intercommodity_credit(price, long - short, self.credit_rate)
        return p.anchored(np.maximum(loss, 0.0))

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "preset": self.preset.name,
            "preset_source": self.preset.source,
            "cross_underlying": self.cross_underlying,
            "credit_rate": self.credit_rate,
            "corr": self.corr,
            "confidence": self.confidence,
            "horizon_days": self.horizon_days,
            "covariance": None if self.covariance is None else self.covariance.describe(),
        }
