// Placeholder interface; the registry implementation lands with the provider modules.
import type { ProviderConfig } from "../config/schema.ts";
import type { ProviderDef } from "./types.ts";

export interface ProviderRegistry {
  get(slug: string): ProviderDef | undefined;
  /** Every known slug (built-in and configured custom-*), sorted. */
  slugs(): string[];
  /** The upstream URL for one step. */
  url(provider: ProviderDef, accountId: string, endpoint: string, search: string): string;
}

export declare function createRegistry(overrides: Record<string, ProviderConfig>): ProviderRegistry;
