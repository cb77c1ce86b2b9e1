"""Stack: the validated models of one stack directory, and where each came from in the YAML.

A Stack is what ``load_stack`` returns and what every check receives. It keeps the models in
lists per kind (in file order), the warnings found, and a map back to the YAML so that any model,
or any field below one, can be located as ``file:line:col``::

    stack.locate(table, "analysisRule", "policy", "aggregationThresholds", 0)

It does not validate anything itself (``reconciler.spec.pipeline`` does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from reconciler.errors import Diagnostic, SourceLocation
from reconciler.spec.artifacts import ArtifactHashes
from reconciler.spec.id_models import ID_DOCUMENT_MODELS
from reconciler.spec.load import RawDocument, YamlPath
from reconciler.spec.models import (
    AnalysisTemplateSpec,
    CollaborationSpec,
    ConfiguredTableSpec,
    MovedSpec,
    PrivacyBudgetTemplateSpec,
    SpecModel,
)
from reconciler.spec.state_models import RemoteStateSpec

__all__ = ["Check", "Stack"]


@dataclass(eq=False)
class Stack:
    """The models of one stack, with their source positions.

    Attributes:
        root: the stack directory (or the single YAML file given).
        collaborations / configured_tables / analysis_templates / privacy_budget_templates: the
            documents of each kind, in file order (files sorted by name, documents in order).
        moved: the ``kind: Moved`` documents (addresses that changed), in file order.
        remote_state: the ``kind: RemoteState`` documents (where state and lock live), in file order.
        needs_local_data: whether ``localData`` files must exist (not when reviewing a revision).
        ml_documents: the Clean Rooms ML documents (``ml_models``), in file order.
        id_documents: the ID namespace associations and ID mapping tables (``id_models``), in file order.
        warnings: Diagnostics of severity warning (a valid stack may have some).
    """

    root: Path
    collaborations: list[CollaborationSpec] = field(default_factory=list)
    configured_tables: list[ConfiguredTableSpec] = field(default_factory=list)
    analysis_templates: list[AnalysisTemplateSpec] = field(default_factory=list)
    privacy_budget_templates: list[PrivacyBudgetTemplateSpec] = field(default_factory=list)
    moved: list[MovedSpec] = field(default_factory=list)
    remote_state: list[RemoteStateSpec] = field(default_factory=list)
    needs_local_data: bool = True
    ml_documents: list[SpecModel] = field(default_factory=list)
    id_documents: list[SpecModel] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    _origins: dict[int, tuple[RawDocument, YamlPath]] = field(default_factory=dict, repr=False)
    _documents: list[tuple[SpecModel, RawDocument]] = field(default_factory=list, repr=False)
    _indexed: bool = field(default=False, repr=False)
    _sql: dict[int, str] = field(default_factory=dict, repr=False)
    _artifacts: dict[int, ArtifactHashes] = field(default_factory=dict, repr=False)

    def add(self, model: SpecModel, doc: RawDocument) -> None:
        """Add a validated top-level document (used by the pipeline)."""
        lists: dict[type[SpecModel], list[SpecModel]] = {
            CollaborationSpec: self.collaborations,  # type: ignore[dict-item]
            ConfiguredTableSpec: self.configured_tables,  # type: ignore[dict-item]
            AnalysisTemplateSpec: self.analysis_templates,  # type: ignore[dict-item]
            PrivacyBudgetTemplateSpec: self.privacy_budget_templates,  # type: ignore[dict-item]
            MovedSpec: self.moved,  # type: ignore[dict-item]
            RemoteStateSpec: self.remote_state,  # type: ignore[dict-item]
            **{kind: self.id_documents for kind in ID_DOCUMENT_MODELS.values()},
        }
        lists.get(type(model), self.ml_documents).append(model)
        self._documents.append((model, doc))
        self._origins[id(model)] = (doc, ())
        self._indexed = False

    @property
    def documents(self) -> list[SpecModel]:
        """Every top-level document model, in file order."""
        return [model for model, _ in self._documents]

    def collaboration(self, key: str) -> CollaborationSpec | None:
        """The collaboration with this ``key`` (its name unless set; the first one if declared twice)."""
        return next((c for c in self.collaborations if c.key == key), None)

    def locate(self, node: BaseModel, *path: str | int, key: bool = False) -> SourceLocation:
        """Where ``node`` (any model of this stack, top-level or nested), or a field below it, is.

        Args:
            node: a model object from this stack (a document, a Member, an Association, a policy...).
            path: field names, map keys and list indexes below ``node``.
            key: point at the key of the last mapping entry rather than its value.

        Returns:
            The position; a path that is absent in the YAML (a default) points at its nearest parent.

        Raises:
            KeyError: ``node`` is not part of this stack.
        """
        doc, prefix = self._origin(node)
        return doc.locate((*prefix, *path), key=key)

    def file_of(self, node: BaseModel) -> Path:
        """The YAML file that declares ``node``."""
        return self._origin(node)[0].path

    def resolve_path(self, node: BaseModel, relative: str) -> Path:
        """A path written in ``node``'s YAML (``localData``, ``source.file``), relative to that file."""
        return self.file_of(node).parent / relative

    def template_sql(self, template: AnalysisTemplateSpec) -> str | None:
        """The template's SQL: ``source.text``, or the contents of ``source.file`` (None if unreadable)."""
        return self._sql.get(id(template))

    def template_artifacts(self, template: AnalysisTemplateSpec) -> ArtifactHashes | None:
        """A PySpark template's artifact hashes (None for SQL templates, or if a file was unreadable)."""
        return self._artifacts.get(id(template))

    def _origin(self, node: BaseModel) -> tuple[RawDocument, YamlPath]:
        origin = self._origins.get(id(node))
        if origin is None and not self._indexed:
            self._index()
            origin = self._origins.get(id(node))
        if origin is None:
            raise KeyError(f"{type(node).__name__} is not part of this stack")
        return origin

    def _index(self) -> None:
        """Record the YAML path of every nested model (done once, on the first nested lookup)."""
        for model, doc in self._documents:
            pending: list[tuple[BaseModel, YamlPath]] = [(model, ())]
            while pending:
                current, path = pending.pop()
                self._origins[id(current)] = (doc, path)
                for name in type(current).model_fields:
                    value = getattr(current, name)
                    if isinstance(value, BaseModel):
                        pending.append((value, (*path, name)))
                    elif isinstance(value, list):
                        pending.extend(
                            (v, (*path, name, i)) for i, v in enumerate(value) if isinstance(v, BaseModel)
                        )
                    elif isinstance(value, dict):
                        pending.extend(
                            (v, (*path, name, k)) for k, v in value.items() if isinstance(v, BaseModel)
                        )
        self._indexed = True


#: A semantic check (layers 3 and 4): reads a Stack and yields every problem it finds.
#: It never raises for bad input and never mutates the Stack; warnings use Severity.WARNING.
#: ``reconciler.spec.checks.CHECKS`` and ``reconciler.spec.sql_checks.CHECKS`` are tuples of them.
Check = Callable[[Stack], Iterable[Diagnostic]]
