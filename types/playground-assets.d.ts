/**
 * The playground page's assets as strings, made at bundle time by the esbuild plugin in
 * scripts/playground-assets.cjs (playground/index.html, playground/app.ts bundled, playground/app.css).
 */
declare module 'playground:assets' {
  export const page: string;
  export const script: string;
  export const style: string;
}
