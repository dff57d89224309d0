"""Network v3's two heads and the one ranked list they make.

Concentrated samples scatter P(q)·S(q). Instead of one output per product, the network
has two heads: the *form* head over the dataset's models (as before) and the *structure*
head over ``none`` and the four structure factors SasView multiplies form factors by
(:data:`sasnets_plugin.models.products.STRUCTURES`). A structure-factor peak looks alike
whatever the form, so one head learns it from every combinable form's curves, where one
output per product would see a hundredth of them.

The structure head is trained only on curves of forms SasView can combine (the others
have ``none`` by construction), so it estimates p(structure | curve, form combinable),
and the ranked list is::

    P(form)            = p_form(form)                       form not combinable
    P(form)            = p_form(form) · p_structure(none)   form combinable
    P(form@structure)  = p_form(form) · p_structure(structure)

which sums to 1 over the list (the models, then every allowed product, form by form).
In log space that is one fixed 0/1 matrix applied to the two heads' log-probabilities
(:func:`joint_matrix`): the export puts it in the network as a frozen Dense layer, and the
evaluation applies the same matrix in numpy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sasnets_plugin.models import products

#: Label of the structure head for a curve without a structure factor.
NONE = "none"
STRUCTURE_CLASSES = (NONE, *products.STRUCTURES)


def combinable_forms(forms: list[str]) -> list[str]:
    """The forms SasView multiplies by structure factors, in ``forms`` order."""
    return [f for f in forms if products.combinable(f)]


def joint_classes(forms: list[str]) -> list[str]:
    """The ranked list: ``forms``, then ``form@structure`` for every combinable form."""
    return list(forms) + [f"{f}@{s}" for f in combinable_forms(forms) for s in products.STRUCTURES]


def joint_matrix(forms: list[str]) -> np.ndarray:
    """``(n_forms + n_structures, n_joint)`` 0/1 matrix M: joint log-probabilities are
    ``concat(log p_form, log p_structure) @ M`` (module docstring)."""
    names = joint_classes(forms)
    n_forms = len(forms)
    matrix = np.zeros((n_forms + len(STRUCTURE_CLASSES), len(names)), dtype=np.float32)
    index = {f: i for i, f in enumerate(forms)}
    combinable = set(combinable_forms(forms))
    for j, name in enumerate(names):
        form, structure = products.split(name)
        matrix[index[form], j] = 1.0
        if form in combinable:
            matrix[n_forms + STRUCTURE_CLASSES.index(structure or NONE), j] = 1.0
    return matrix


def joint_probabilities(form_log_probs: np.ndarray, structure_log_probs: np.ndarray,
                        matrix: np.ndarray) -> np.ndarray:
    """Probabilities over the ranked list from the two heads' log-probabilities."""
    joint = np.concatenate([form_log_probs, structure_log_probs], axis=1) @ matrix
    probs = np.exp(joint - joint.max(axis=1, keepdims=True))
    return probs / probs.sum(axis=1, keepdims=True)


def form_of_joint(forms: list[str]) -> np.ndarray:
    """``(n_joint, n_forms)`` 0/1 matrix summing list probabilities into forms."""
    names = joint_classes(forms)
    out = np.zeros((len(names), len(forms)))
    index = {f: i for i, f in enumerate(forms)}
    for j, name in enumerate(names):
        out[j, index[products.split(name)[0]]] = 1.0
    return out


@dataclass(frozen=True)
class Targets:
    """What the heads learn for each curve; ``joint`` is -1 for a curve whose label lies
    outside the list (a nested limit of a model the run does not rank), which is left out."""

    form: np.ndarray              # int32 index into forms
    structure: np.ndarray         # int32 index into STRUCTURE_CLASSES
    structure_weight: np.ndarray  # float32: 1 where the form is combinable, else 0
    joint: np.ndarray             # int32 index into joint_classes(forms), or -1

    @property
    def valid(self) -> np.ndarray:
        return self.joint >= 0


def encode_labels(labels, forms: list[str]) -> Targets:
    """:class:`Targets` of dataset labels (``model``, ``form@structure``)."""
    names = {name: j for j, name in enumerate(joint_classes(forms))}
    form_index = {f: i for i, f in enumerate(forms)}
    combinable = set(combinable_forms(forms))
    n = len(labels)
    form = np.zeros(n, np.int32)
    structure = np.zeros(n, np.int32)
    weight = np.zeros(n, np.float32)
    joint = np.full(n, -1, np.int32)
    for i, label in enumerate(labels):
        if label not in names:
            continue
        f, s = products.split(label)
        form[i], joint[i] = form_index[f], names[label]
        structure[i] = STRUCTURE_CLASSES.index(s or NONE)
        weight[i] = float(f in combinable)
    return Targets(form, structure, weight, joint)
