"""Local OpenAI Chat Completions and Anthropic Messages servers shared by the analysis tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.analysis.anthropic_server import AnthropicServer
from tests.analysis.openai_server import OpenAIServer

API_KEY = "sk-test-analysis-key"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def openai_server() -> AsyncIterator[OpenAIServer]:
    async with OpenAIServer(api_key=API_KEY) as server:
        yield server


@pytest_asyncio.fixture(loop_scope="session")
async def llm(openai_server: OpenAIServer) -> AsyncIterator[OpenAIServer]:
    """The session's server, emptied of what an earlier test queued or saw."""
    openai_server.reset()
    yield openai_server
    openai_server.reset()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def anthropic_server() -> AsyncIterator[AnthropicServer]:
    async with AnthropicServer(api_key=API_KEY) as server:
        yield server


@pytest_asyncio.fixture(loop_scope="session")
async def claude(anthropic_server: AnthropicServer) -> AsyncIterator[AnthropicServer]:
    anthropic_server.reset()
    yield anthropic_server
    anthropic_server.reset()
