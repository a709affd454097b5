import type { Price } from "./prices.ts";

/** Anthropic bills cache writes (5-minute TTL) at 1.25× and cache reads at 0.1× the input price. */
const claude = (input: number, output: number): Price => ({ input, output, cacheRead: round(input * 0.1), cacheWrite: round(input * 1.25) });
const round = (n: number): number => Math.round(n * 1e6) / 1e6;

/**
 * Built-in list prices in USD per million tokens, by provider slug then model id. Snapshot ids
 * (`gpt-4o-2024-08-06`) resolve by prefix, so list the base id; list a longer id only when its price
 * differs from its prefix's (`gpt-4o-mini` vs `gpt-4o`). Users add or correct prices in config.
 */
export const PRICE_TABLE: Record<string, Record<string, Price>> = {
  openai: {
    "gpt-4o": { input: 2.5, output: 10, cacheRead: 1.25 },
    "gpt-4o-mini": { input: 0.15, output: 0.6, cacheRead: 0.075 },
    "gpt-4.1": { input: 2, output: 8, cacheRead: 0.5 },
    "gpt-4.1-mini": { input: 0.4, output: 1.6, cacheRead: 0.1 },
    "gpt-4.1-nano": { input: 0.1, output: 0.4, cacheRead: 0.025 },
    "gpt-5": { input: 1.25, output: 10, cacheRead: 0.125 },
    "gpt-5-mini": { input: 0.25, output: 2, cacheRead: 0.025 },
    "gpt-5-nano": { input: 0.05, output: 0.4, cacheRead: 0.005 },
    "gpt-4-turbo": { input: 10, output: 30 },
    "gpt-3.5-turbo": { input: 0.5, output: 1.5 },
    o1: { input: 15, output: 60, cacheRead: 7.5 },
    o3: { input: 2, output: 8, cacheRead: 0.5 },
    "o3-mini": { input: 1.1, output: 4.4, cacheRead: 0.55 },
    "o1-mini": { input: 1.1, output: 4.4, cacheRead: 0.55 },
    "o3-pro": { input: 20, output: 80 },
    "o4-mini": { input: 1.1, output: 4.4, cacheRead: 0.275 },
    "text-embedding-3-small": { input: 0.02, output: 0 },
    "text-embedding-3-large": { input: 0.13, output: 0 },
    "text-embedding-ada-002": { input: 0.1, output: 0 },
  },
  anthropic: {
    "claude-opus-4": claude(15, 75),
    "claude-opus-4-1": claude(15, 75),
    "claude-opus-4-5": claude(5, 25),
    "claude-sonnet-4": claude(3, 15),
    "claude-sonnet-4-5": claude(3, 15),
    "claude-haiku-4-5": claude(1, 5),
    "claude-3-7-sonnet": claude(3, 15),
    "claude-3-5-sonnet": claude(3, 15),
    "claude-3-5-haiku": claude(0.8, 4),
    "claude-3-opus": claude(15, 75),
    "claude-3-haiku": claude(0.25, 1.25),
  },
  "google-ai-studio": {
    "gemini-2.5-pro": { input: 1.25, output: 10, cacheRead: 0.125 },
    "gemini-2.5-flash": { input: 0.3, output: 2.5, cacheRead: 0.03 },
    "gemini-2.5-flash-lite": { input: 0.1, output: 0.4, cacheRead: 0.01 },
    "gemini-2.0-flash": { input: 0.1, output: 0.4, cacheRead: 0.025 },
    "gemini-2.0-flash-lite": { input: 0.075, output: 0.3 },
    "gemini-1.5-pro": { input: 1.25, output: 5 },
    "gemini-1.5-flash": { input: 0.075, output: 0.3 },
  },
  groq: {
    "llama-3.1-8b-instant": { input: 0.05, output: 0.08 },
    "llama-3.3-70b-versatile": { input: 0.59, output: 0.79 },
    "openai/gpt-oss-120b": { input: 0.15, output: 0.75 },
    "openai/gpt-oss-20b": { input: 0.1, output: 0.5 },
    "meta-llama/llama-4-scout-17b-16e-instruct": { input: 0.11, output: 0.34 },
    "meta-llama/llama-4-maverick-17b-128e-instruct": { input: 0.2, output: 0.6 },
    "qwen/qwen3-32b": { input: 0.29, output: 0.59 },
    "moonshotai/kimi-k2-instruct": { input: 1, output: 3 },
  },
  mistral: {
    "mistral-large": { input: 2, output: 6 },
    "mistral-medium": { input: 0.4, output: 2 },
    "mistral-small": { input: 0.1, output: 0.3 },
    "magistral-medium": { input: 2, output: 5 },
    "pixtral-large": { input: 2, output: 6 },
    "ministral-8b": { input: 0.1, output: 0.1 },
    "ministral-3b": { input: 0.04, output: 0.04 },
    codestral: { input: 0.3, output: 0.9 },
    "open-mistral-nemo": { input: 0.15, output: 0.15 },
    "mistral-embed": { input: 0.1, output: 0 },
  },
  deepseek: {
    "deepseek-chat": { input: 0.28, output: 0.42, cacheRead: 0.028 },
    "deepseek-reasoner": { input: 0.28, output: 0.42, cacheRead: 0.028 },
  },
  grok: {
    "grok-4": { input: 3, output: 15, cacheRead: 0.75 },
    "grok-4-fast": { input: 0.2, output: 0.5, cacheRead: 0.05 },
    "grok-3": { input: 3, output: 15, cacheRead: 0.75 },
    "grok-3-mini": { input: 0.3, output: 0.5, cacheRead: 0.075 },
    "grok-code-fast-1": { input: 0.2, output: 1.5, cacheRead: 0.02 },
    "grok-2": { input: 2, output: 10 },
  },
  cohere: {
    "command-a": { input: 2.5, output: 10 },
    "command-r-plus": { input: 2.5, output: 10 },
    "command-r": { input: 0.15, output: 0.6 },
    "command-r7b": { input: 0.0375, output: 0.15 },
  },
  "perplexity-ai": {
    sonar: { input: 1, output: 1 },
    "sonar-pro": { input: 3, output: 15 },
  },
  cerebras: {
    "llama3.1-8b": { input: 0.1, output: 0.1 },
    "llama-3.3-70b": { input: 0.85, output: 1.2 },
  },
  "workers-ai": {
    "@cf/meta/llama-3.1-8b-instruct": { input: 0.282, output: 0.827 },
    "@cf/meta/llama-3.1-8b-instruct-fast": { input: 0.045, output: 0.384 },
    "@cf/meta/llama-3.2-3b-instruct": { input: 0.051, output: 0.335 },
    "@cf/meta/llama-3.3-70b-instruct-fp8-fast": { input: 0.293, output: 2.253 },
    "@cf/mistral/mistral-7b-instruct-v0.1": { input: 0.11, output: 0.19 },
    "@cf/openai/gpt-oss-120b": { input: 0.35, output: 0.75 },
    "@cf/baai/bge-base-en-v1.5": { input: 0.067, output: 0 },
  },
};
