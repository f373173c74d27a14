// The sample images the dev server lists at /samples/index.json (see vite.config.ts).

export interface Sample {
  url: string;
  file: string;
  title: string;
  /** Photos are offered as content, paintings as styles (either can be dragged to either). */
  kind: 'photo' | 'painting';
}

/** Nicer titles for the images in ../shared/images; other files get a title from their name. */
const TITLES: Record<string, string> = {
  content_astronaut: 'Astronaut',
  content_chelsea: 'Chelsea the cat',
  content_coffee: 'Coffee',
  content_rocket: 'Rocket launch',
  texture_brick: 'Brick wall',
  starry_night_vangogh: 'The Starry Night — van Gogh',
  the_scream_munch: 'The Scream — Munch',
  great_wave_hokusai: 'The Great Wave — Hokusai',
  udnie_picabia: 'Udnie — Picabia',
  woman_with_hat_matisse: 'Woman with a Hat — Matisse',
  en_campo_gris_kandinsky: 'In the Grey — Kandinsky',
  shipwreck_turner_jcj: 'The Shipwreck — Turner',
  mondrian_cropped: 'Composition — Mondrian',
};

function titleFor(stem: string): string {
  if (TITLES[stem]) return TITLES[stem];
  const words = stem.replace(/^(content|style|texture)_/, '').replace(/[_-]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export async function loadSamples(): Promise<Sample[]> {
  const base = new URL('samples/', new URL(import.meta.env.BASE_URL, location.href));
  try {
    const res = await fetch(new URL('index.json', base));
    if (!res.ok) return [];
    const body = (await res.json()) as { files?: { path: string }[] };
    return (body.files ?? []).map(({ path }) => {
      const stem = path.replace(/\.[^.]+$/, '');
      const kind = /^(content|texture|photo)_/.test(stem) ? 'photo' : 'painting';
      return { url: new URL(encodeURI(path), base).href, file: path, title: titleFor(stem), kind };
    });
  } catch {
    return [];
  }
}
