// Svelte 5 strips TypeScript types in `<script lang="ts">` itself; no preprocessor needed.
export default {};
