"""Git plumbing for repairs: a throwaway worktree, a bot branch, a commit, a push.

The user's checkout is never touched: the repair works in a separate worktree created
from the current commit (detached), the branch ref is moved without checking it out, and
the worktree is removed afterwards. Re-running on the same drift reuses the same branch::

    >>> with RepairWorkspace.open(project_root, "rocky/repair-1a2b3c") as ws:  # doctest: +SKIP
    ...     (ws.project_dir / "models/stg_orders.sql").write_text(new_sql)
    ...     commit = ws.commit(["models/stg_orders.sql"], "rocky: repair drift")
    ...     ws.push("origin")
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import git
from git.exc import GitCommandError, InvalidGitRepositoryError, NoSuchPathError

from rocky_engine.errors import ConfigError, ProblemError

BRANCH_PREFIX = "rocky/repair-"
_BOT_NAME = "rocky"
_BOT_EMAIL = "rocky-bot@users.noreply.github.com"


class GitError(ProblemError):
    """A git operation failed; the message says which and what is left behind."""


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    branch: str
    created: bool  # False when the branch already held exactly this change


def branch_name(repair_id: str) -> str:
    """``rocky/repair-<id>``, with the id reduced to characters git accepts.

    >>> branch_name("3f9a0c12ab45")
    'rocky/repair-3f9a0c12ab45'
    """
    clean = re.sub(r"[^a-z0-9_]+", "-", repair_id.lower()).strip("-") or "drift"
    return BRANCH_PREFIX + clean


def find_repo(path: Path) -> git.Repo:
    """The git repository holding ``path``; ConfigError when there is none."""
    try:
        return git.Repo(path, search_parent_directories=True)
    except (InvalidGitRepositoryError, NoSuchPathError):
        raise ConfigError(
            f"{path} is not inside a git repository",
            hint="rocky repair commits its fix on a branch: run `git init` and commit the "
                 "project first",
        ) from None


class RepairWorkspace:
    """A detached worktree of the project's repository at the current commit."""

    def __init__(self, repo: git.Repo, worktree: Path, subdir: Path, branch: str,
                 base: str) -> None:
        self.repo = repo
        self.worktree = worktree
        self.subdir = subdir
        self.branch = branch
        self.base = base  # the commit the repair starts from
        self._wt_repo = git.Repo(worktree)

    @classmethod
    @contextmanager
    def open(cls, project_root: Path, branch: str, *, keep: bool = False
             ) -> Iterator[RepairWorkspace]:
        repo = find_repo(project_root)
        top = Path(repo.working_tree_dir or project_root).resolve()
        subdir = project_root.resolve().relative_to(top)
        try:
            base = repo.head.commit.hexsha
        except ValueError:
            raise ConfigError("the repository has no commits yet",
                              hint="commit the project, then run rocky repair") from None
        tmp = Path(tempfile.mkdtemp(prefix="rocky-repair-"))
        worktree = tmp / "wt"
        try:
            repo.git.worktree("add", "--detach", str(worktree), base)
        except GitCommandError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise GitError(f"cannot create a worktree: {_git_message(exc)}") from None
        ws = cls(repo, worktree, subdir, branch, base)
        # target/ is git-ignored, so the worktree starts without caches: give it the
        # project's (content-addressed, never stale) so validating a fix compiles warm.
        from rocky_engine.compiler.cache import copy_caches

        copy_caches(project_root, ws.project_dir)
        try:
            yield ws
        finally:
            ws._wt_repo.close()
            if not keep:
                try:
                    repo.git.worktree("remove", "--force", str(worktree))
                except GitCommandError:
                    pass
                shutil.rmtree(tmp, ignore_errors=True)
                try:
                    repo.git.worktree("prune")
                except GitCommandError:
                    pass

    @property
    def project_dir(self) -> Path:
        return self.worktree / self.subdir

    def repo_path(self, project_rel: str) -> str:
        """A project-relative path as a repository-relative one."""
        return (self.subdir / project_rel).as_posix() if str(self.subdir) != "." else project_rel

    def existing_branch_sha(self) -> str | None:
        try:
            return self.repo.commit(f"refs/heads/{self.branch}").hexsha
        except (git.BadName, ValueError, GitCommandError):
            return None

    def commit(self, paths: Sequence[str], message: str) -> CommitInfo:
        """Commit ``paths`` (project-relative) on top of the base and point the branch at it.

        When the branch already holds the same change on the same base, it is reused as is.
        """
        wt = self._wt_repo
        repo_paths = [self.repo_path(p) for p in paths]
        try:
            wt.git.add("--", *repo_paths)
            tree = wt.git.write_tree()
        except GitCommandError as exc:
            raise GitError(f"cannot stage the patch: {_git_message(exc)}") from None
        existing = self.existing_branch_sha()
        if existing is not None:
            old = self.repo.commit(existing)
            if old.tree.hexsha == tree and [p.hexsha for p in old.parents] == [self.base]:
                return CommitInfo(existing, self.branch, created=False)
        if tree == self.repo.commit(self.base).tree.hexsha:
            raise GitError("the repair changes no file; nothing to commit")
        env = _identity(self.repo)
        try:
            sha = wt.git.commit_tree(tree, "-p", self.base, "-m", message, env=env).strip()
            # The branch is never checked out anywhere, so moving it is safe.
            self.repo.git.update_ref(f"refs/heads/{self.branch}", sha)
        except GitCommandError as exc:
            raise GitError(f"cannot commit the repair: {_git_message(exc)}") from None
        return CommitInfo(sha, self.branch, created=True)

    def push(self, remote: str) -> None:
        """Force-push the bot branch (its history is rocky's own: one commit on the base)."""
        if remote not in [r.name for r in self.repo.remotes]:
            raise GitError(f"git remote `{remote}` does not exist",
                           hint=f"add it (`git remote add {remote} URL`) or set [github] remote "
                                "in rocky.toml; the branch is kept locally")
        try:
            self.repo.git.push(remote, f"+refs/heads/{self.branch}:refs/heads/{self.branch}")
        except GitCommandError as exc:
            raise GitError(f"push to `{remote}` failed: {_git_message(exc)}",
                           hint=f"the branch {self.branch} is kept locally") from None


def _identity(repo: git.Repo) -> dict[str, str]:
    """Author/committer for the bot commit: the repo's configured user, else rocky's."""
    env = dict(os.environ)
    reader = repo.config_reader()
    name = reader.get_value("user", "name", "") if reader.has_option("user", "name") else ""
    email = reader.get_value("user", "email", "") if reader.has_option("user", "email") else ""
    for role in ("AUTHOR", "COMMITTER"):
        env.setdefault(f"GIT_{role}_NAME", str(name) or _BOT_NAME)
        env.setdefault(f"GIT_{role}_EMAIL", str(email) or _BOT_EMAIL)
    return env


def _git_message(exc: GitCommandError) -> str:
    text = (exc.stderr or exc.stdout or str(exc)).strip()
    text = re.sub(r"^\s*stderr: ", "", text)
    # Never echo credentials embedded in a remote URL.
    text = re.sub(r"(https?://)[^/@\s]+@", r"\1***@", text)
    return " ".join(line.strip() for line in text.splitlines() if line.strip())[:400]
